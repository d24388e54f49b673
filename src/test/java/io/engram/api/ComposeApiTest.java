package io.engram.api;

import static io.engram.testsupport.Fixtures.ints;
import static io.engram.testsupport.ProblemAsserts.assertProblem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import io.engram.model.LanguageModel;
import io.engram.model.LoadedModel;
import io.engram.model.ModelDirectory;
import io.engram.model.ModelState;
import io.engram.testsupport.Http;
import io.engram.testsupport.OracleModelDir;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.core.env.Environment;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;

/**
 * {@code compose} on /v1/generate and the OpenAI endpoints, over real HTTP on the oracle's RWKV-7: "mean" is the
 * behaviour without the field, a mixture of one state is that state's generation, and the mixture's posterior
 * weights and token log-probabilities equal an independent double-precision computation from unbatched reads.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class ComposeApiTest {

    static Path models;
    /** The same checkpoint loaded apart from the server, for the independent computation. */
    static LoadedModel reference;

    @DynamicPropertySource
    static void props(DynamicPropertyRegistry r) throws IOException {
        models = Files.createTempDirectory("engram-compose-test");
        OracleModelDir.create(models, "tiny");
        r.add("engram.models-dir", () -> models.toString());
        r.add("engram.limits.max-document-tokens", () -> "5000");
        r.add("engram.scheduler.max-running", () -> "16");
    }

    @BeforeAll
    static void loadReference() throws IOException {
        Path dir = OracleModelDir.create(Files.createTempDirectory("engram-compose-ref"), "tiny");
        reference = ModelDirectory.load("tiny", dir, new ModelDirectory.Options(Device.cpu(), 16, true));
    }

    @AfterAll
    static void closeReference() {
        reference.close();
    }

    @Autowired
    Environment env;
    Http http;

    @BeforeEach
    void client() {
        http = new Http(Integer.parseInt(env.getProperty("local.server.port")));
    }

    static int[] randomTokens(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = 32 + r.nextInt(90);
        return t;
    }

    String prime(int[] doc) {
        Http.Response r = http.post("/v1/states", Map.of("tokens", doc));
        assertTrue(r.status() == 201 || r.status() == 200, r.body());
        return r.json().get("id").asText();
    }

    JsonNode generate(Map<String, Object> body) {
        Http.Response r = http.post("/v1/generate", body);
        assertEquals(200, r.status(), r.body());
        return r.json();
    }

    static Map<String, Object> with(Map<String, Object> base, Object... kv) {
        Map<String, Object> m = new HashMap<>(base);
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    static List<Map<String, Object>> refs(List<String> ids, double... weights) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i = 0; i < ids.size(); i++) out.add(Map.of("id", ids.get(i), "weight", weights.length == 0 ? 1.0 : weights[i]));
        return out;
    }

    @Test
    void meanIsTheBehaviourWithoutCompose() {
        String a = prime(randomTokens(1, 20)), b = prime(randomTokens(2, 20));
        for (Object temperature : List.of(0, 0.9)) {
            Map<String, Object> body = Map.of("states", refs(List.of(a, b), 1, 3), "prompt_tokens", randomTokens(3, 5),
                    "max_tokens", 8, "temperature", temperature, "seed", 7, "logprobs", 3);
            JsonNode plain = generate(body);
            JsonNode mean = generate(with(body, "compose", "mean"));
            assertEquals(plain.get("tokens"), mean.get("tokens"));
            assertEquals(plain.get("logprobs"), mean.get("logprobs"));    // bit for bit: the same code path
            assertFalse(mean.has("component_weights"), mean.toString());
            assertFalse(plain.has("component_weights"));
        }
    }

    @Test
    void mixtureOfOneStateIsThatStatesGeneration() {
        String a = prime(randomTokens(11, 24));
        for (Object temperature : List.of(0, 0.8)) {
            Map<String, Object> body = Map.of("states", refs(List.of(a)), "prompt_tokens", randomTokens(12, 6),
                    "max_tokens", 10, "temperature", temperature, "seed", 42, "logprobs", 3);
            JsonNode plain = generate(body);
            JsonNode mix = generate(with(body, "compose", "mixture"));
            assertEquals(plain.get("tokens"), mix.get("tokens"), "temperature " + temperature);
            assertLogprobsClose(plain.get("logprobs"), mix.get("logprobs"), 1e-4);
            assertEquals(1.0, mix.get("component_weights").get(0).asDouble(), 1e-12);
        }
    }

    @Test
    void mixtureOfTwoIdenticalStatesIsOneOfThem() {
        String a = prime(randomTokens(21, 16));
        Map<String, Object> body = Map.of("prompt_tokens", randomTokens(22, 4), "max_tokens", 8, "temperature", 0,
                "logprobs", 2);
        JsonNode one = generate(with(body, "states", refs(List.of(a))));
        JsonNode two = generate(with(body, "states", refs(List.of(a, a)), "compose", "mixture"));
        assertEquals(one.get("tokens"), two.get("tokens"));
        assertLogprobsClose(one.get("logprobs"), two.get("logprobs"), 1e-4);
        JsonNode w = two.get("component_weights");
        assertEquals(w.get(0).asDouble(), w.get(1).asDouble(), 0.0, w.toString());   // identical evidence
        assertEquals(0.5, w.get(0).asDouble(), 1e-12);
    }

    @Test
    void posteriorWeightsAndMixtureLogprobsEqualAnIndependentDoublePrecisionComputation() {
        int k = 4;
        List<int[]> docs = new ArrayList<>();
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < k; i++) {
            docs.add(randomTokens(100 + i, 12 + 3 * i));
            ids.add(prime(docs.get(i)));
        }
        double[] prior = {1, 2, 3, 0.5};
        int[] prompt = randomTokens(200, 15);
        JsonNode mix = generate(Map.of("states", refs(ids, prior), "prompt_tokens", prompt, "max_tokens", 6,
                "temperature", 0, "compose", "mixture", "logprobs", 1));
        JsonNode pm = generate(Map.of("states", refs(ids, prior), "prompt_tokens", prompt, "max_tokens", 6,
                "temperature", 0, "compose", "posterior_mean"));

        // independently: each document read on its own (unbatched), log-likelihoods summed in double precision
        LanguageModel m = reference.model();
        double[] logW = new double[k];
        List<ModelState> states = new ArrayList<>();
        float[][] logits = new float[k][];
        double priorSum = 0;
        for (double p : prior) priorSum += p;
        for (int i = 0; i < k; i++) {
            ModelState s = m.zeroState();
            logits[i] = m.forward(s, docs.get(i), true);
            states.add(s);
            logW[i] = Math.log(prior[i] / priorSum);
        }
        for (int t : prompt) {
            for (int i = 0; i < k; i++) {
                logW[i] += logSoftmax(logits[i])[t];
                logits[i] = m.forward(states.get(i), new int[] {t}, true);
            }
        }
        assertWeights(normalised(logW), pm.get("component_weights"), 1e-5);
        int[] generated = ints(mix.get("tokens"));
        for (int j = 0; j < generated.length; j++) {
            double[] w = normalised(logW);
            int t = generated[j];
            // the mixture's distribution over the next token; greedy picks its argmax
            double best = Double.NEGATIVE_INFINITY;
            int argmax = -1;
            double[][] ls = new double[k][];
            for (int i = 0; i < k; i++) ls[i] = logSoftmax(logits[i]);
            for (int v = 0; v < ls[0].length; v++) {
                double p = 0;
                for (int i = 0; i < k; i++) p += w[i] * Math.exp(ls[i][v]);
                if (p > best) {
                    best = p;
                    argmax = v;
                }
                if (v == t) assertEquals(Math.log(p), mix.get("logprobs").get(j).get("logprob").asDouble(), 1e-4, "token " + j);
            }
            assertEquals(argmax, t, "greedy on the mixture, token " + j);
            for (int i = 0; i < k; i++) {
                logW[i] += ls[i][t];
                logits[i] = m.forward(states.get(i), new int[] {t}, true);
            }
        }
        assertWeights(normalised(logW), mix.get("component_weights"), 1e-5);
    }

    @Test
    void sixteenComponentsAndAThousandTokenPromptStayFinite() {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 16; i++) ids.add(prime(randomTokens(300 + i, 40)));
        int[] prompt = randomTokens(400, 1000);
        JsonNode mix = generate(Map.of("states", refs(ids), "prompt_tokens", prompt, "max_tokens", 4,
                "temperature", 0, "compose", "mixture", "logprobs", 2));
        double sum = 0;
        for (JsonNode w : mix.get("component_weights")) {
            assertTrue(Double.isFinite(w.asDouble()) && w.asDouble() >= 0, mix.toString());
            sum += w.asDouble();
        }
        assertEquals(1.0, sum, 1e-9);
        for (JsonNode lp : mix.get("logprobs")) assertTrue(Double.isFinite(lp.get("logprob").asDouble()), lp.toString());
        assertEquals(16, mix.get("component_weights").size());
        // a 1,000-token prompt is ~ -4,000 nats under every component: p(prompt | state) alone underflows a double
        JsonNode pm = generate(Map.of("states", refs(ids), "prompt_tokens", prompt, "max_tokens", 2, "temperature", 0,
                "compose", "posterior_mean"));
        double s2 = 0;
        for (JsonNode w : pm.get("component_weights")) s2 += w.asDouble();
        assertEquals(1.0, s2, 1e-9);
    }

    @Test
    void streamingDoneEventCarriesTheWeightsAndSaveStateStoresTheirMean() {
        String a = prime(randomTokens(31, 16)), b = prime(randomTokens(32, 16));
        Http.Response r = http.post("/v1/generate", Map.of("states", refs(List.of(a, b)), "prompt_tokens", randomTokens(33, 5),
                "max_tokens", 4, "temperature", 0, "compose", "mixture", "stream", true, "save_state", true));
        assertEquals(200, r.status(), r.body());
        String done = r.body().substring(r.body().indexOf("event: done"));
        JsonNode d = Http.JSON.readTree(done.substring(done.indexOf("data: ") + 6).trim());
        assertEquals(2, d.get("component_weights").size(), done);
        assertEquals("posterior_weighted_mean", d.get("state_composition").asText());
        String saved = d.get("state_id").asText();
        assertEquals("mixture", http.get("/v1/states/" + saved).json().get("kind").asText());
        assertEquals(200, http.post("/v1/generate", Map.of("states", refs(List.of(saved)), "max_tokens", 2,
                "temperature", 0)).status());
    }

    @Test
    void openAiEndpointsAcceptCompose() {
        String a = prime(randomTokens(41, 16)), b = prime(randomTokens(42, 16));
        Http.Response c = http.post("/v1/completions", Map.of("prompt", "Hi", "max_tokens", 3, "temperature", 0,
                "states", refs(List.of(a, b)), "compose", "mixture"));
        assertEquals(200, c.status(), c.body());
        Http.Response g = http.post("/v1/generate", Map.of("prompt", "Hi", "max_tokens", 3, "temperature", 0,
                "states", refs(List.of(a, b)), "compose", "mixture"));
        assertEquals(g.json().get("text").asText(), c.json().get("choices").get(0).get("text").asText());
        Http.Response chat = http.post("/v1/chat/completions", Map.of("messages", List.of(Map.of("role", "user", "content", "Hi")),
                "max_tokens", 3, "states", refs(List.of(a, b)), "compose", "posterior_mean"));
        assertEquals(200, chat.status(), chat.body());
        assertProblem(http.post("/v1/chat/completions", Map.of("messages", List.of(Map.of("role", "user", "content", "Hi")),
                "states", refs(List.of(a)), "compose", "blend")), 400, "invalid-request");
    }

    @Test
    void badComposeInputIsAProblemNamingTheField() {
        String a = prime(randomTokens(51, 16));
        Http.Response unknown = http.post("/v1/generate", Map.of("states", refs(List.of(a)), "prompt_tokens", new int[] {5},
                "compose", "blend", "save_state", true));
        assertProblem(unknown, 400, "invalid-request");
        assertTrue(unknown.json().get("detail").asText().contains("'compose'"), unknown.body());
        Http.Response none = http.post("/v1/generate", Map.of("prompt_tokens", new int[] {5}, "compose", "mixture"));
        assertProblem(none, 400, "invalid-request");
        assertTrue(none.json().get("detail").asText().contains("'states'"), none.body());
        Http.Response zero = http.post("/v1/generate", Map.of("states", refs(List.of(a, a), 0, 0), "prompt_tokens",
                new int[] {5}, "compose", "mixture"));
        assertProblem(zero, 400, "invalid-request");
        assertTrue(zero.json().get("detail").asText().contains("weight"), zero.body());
        List<String> many = new ArrayList<>();
        for (int i = 0; i < 17; i++) many.add(a);
        Http.Response tooMany = http.post("/v1/generate", Map.of("states", refs(many), "prompt_tokens", new int[] {5},
                "compose", "mixture"));
        assertProblem(tooMany, 400, "limit-exceeded");
        assertTrue(tooMany.json().get("detail").asText().contains("engram.scheduler.max-running"), tooMany.body());
        // the same 17 states as a mean are one row: allowed
        assertEquals(200, http.post("/v1/generate", Map.of("states", refs(many), "prompt_tokens", new int[] {5},
                "max_tokens", 1)).status());
    }

    static double[] logSoftmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) max = Math.max(max, v);
        double s = 0;
        for (float v : logits) s += Math.exp(v - max);
        double lse = max + Math.log(s);
        double[] out = new double[logits.length];
        for (int i = 0; i < out.length; i++) out[i] = logits[i] - lse;
        return out;
    }

    static double[] normalised(double[] logW) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : logW) max = Math.max(max, v);
        double s = 0;
        for (double v : logW) s += Math.exp(v - max);
        double[] w = new double[logW.length];
        for (int i = 0; i < w.length; i++) w[i] = Math.exp(logW[i] - max) / s;
        return w;
    }

    static void assertWeights(double[] want, JsonNode got, double tol) {
        assertEquals(want.length, got.size(), got.toString());
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got.get(i).asDouble(), tol, "weight " + i + " of " + got);
    }

    static void assertLogprobsClose(JsonNode want, JsonNode got, double tol) {
        assertEquals(want.size(), got.size());
        for (int j = 0; j < want.size(); j++) {
            assertEquals(want.get(j).get("token").asInt(), got.get(j).get("token").asInt());
            assertEquals(want.get(j).get("logprob").asDouble(), got.get(j).get("logprob").asDouble(), tol);
            JsonNode wt = want.get(j).get("top"), gt = got.get(j).get("top");
            if (wt == null) {
                assertNull(gt);
                continue;
            }
            for (int i = 0; i < wt.size(); i++) {
                assertEquals(wt.get(i).get("token").asInt(), gt.get(i).get("token").asInt());
                assertEquals(wt.get(i).get("logprob").asDouble(), gt.get(i).get("logprob").asDouble(), tol);
            }
        }
    }
}
