package io.engram.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.testsupport.Http;
import io.engram.testsupport.OracleModelDir;
import io.engram.testsupport.TestApp;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * OpenAI {@code logprobs}/{@code top_logprobs} are honoured in OpenAI's shapes, streaming and not, and carry the
 * same numbers as Engram's own {@code /v1/generate} logprobs for the same greedy request (the oracle model reads
 * bytes, so token i's text is the byte i).
 */
class OpenAiLogprobsTest {

    static TestApp app;

    @BeforeAll
    static void start() throws Exception {
        Path models = Files.createTempDirectory("engram-logprobs-test");
        OracleModelDir.create(models, "tiny");
        app = TestApp.start(models);
    }

    @AfterAll
    static void stop() {
        if (app != null) app.close();
    }

    @Test
    void completionsCarryTheLegacyLogprobsObject() {
        Http http = app.http();
        JsonNode engram = http.post("/v1/generate", "{\"prompt\":\"Hello\",\"max_tokens\":6,\"temperature\":0,\"logprobs\":3}").json();
        JsonNode lp = http.post("/v1/completions", "{\"prompt\":\"Hello\",\"max_tokens\":6,\"temperature\":0,\"logprobs\":3}")
                .json().get("choices").get(0).get("logprobs");
        assertTrue(lp != null && lp.isObject(), "logprobs object: " + lp);
        JsonNode native_ = engram.get("logprobs");
        assertEquals(native_.size(), lp.get("tokens").size(), lp.toString());
        int offset = 0;
        boolean ascii = true;
        for (int i = 0; i < native_.size(); i++) {
            int id = native_.get(i).get("token").asInt();
            String text = legacy(id);
            assertEquals(text, lp.get("tokens").get(i).asText());
            assertEquals(native_.get(i).get("logprob").asDouble(), lp.get("token_logprobs").get(i).asDouble(), 1e-9);
            JsonNode top = lp.get("top_logprobs").get(i);
            assertEquals(3, top.size(), top.toString());
            for (JsonNode alt : native_.get(i).get("top")) {
                assertEquals(alt.get("logprob").asDouble(), top.get(legacy(alt.get("token").asInt())).asDouble(), 1e-9);
            }
            int at = lp.get("text_offset").get(i).asInt();
            if (ascii) assertEquals(offset, at, "offset of token " + i + " after ASCII tokens");
            if (i > 0) assertTrue(at >= lp.get("text_offset").get(i - 1).asInt(), "offsets never decrease");
            ascii &= id < 128;
            offset++;
        }
        // streamed: one chunk per token, the same numbers
        List<Double> streamed = new ArrayList<>();
        for (JsonNode c : chunks(http.post("/v1/completions",
                "{\"prompt\":\"Hello\",\"max_tokens\":6,\"temperature\":0,\"logprobs\":3,\"stream\":true}").body())) {
            JsonNode l = c.get("choices").isEmpty() ? null : c.get("choices").get(0).get("logprobs");
            if (l != null && !l.isNull()) for (JsonNode x : l.get("token_logprobs")) streamed.add(x.asDouble());
        }
        assertEquals(doubles(lp.get("token_logprobs")), streamed);
    }

    @Test
    void chatCarriesContentLogprobsWithBytes() {
        Http http = app.http();
        String req = "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":5,\"temperature\":0,"
                + "\"logprobs\":true,\"top_logprobs\":2";
        JsonNode choice = http.post("/v1/chat/completions", req + "}").json().get("choices").get(0);
        JsonNode content = choice.get("logprobs").get("content");
        assertTrue(content.size() > 0, choice.toString());
        List<Double> lps = new ArrayList<>();
        for (JsonNode t : content) {
            assertEquals(1, t.get("bytes").size(), t.toString());                   // the bytes tokenizer: one byte a token
            assertEquals(bytesText(t.get("bytes").get(0).asInt()), t.get("token").asText());
            assertEquals(2, t.get("top_logprobs").size(), t.toString());
            // greedy: the chosen token is the likeliest
            assertEquals(t.get("top_logprobs").get(0).get("logprob").asDouble(), t.get("logprob").asDouble(), 1e-9);
            assertTrue(t.get("logprob").asDouble() <= 0);
            lps.add(t.get("logprob").asDouble());
        }
        List<Double> streamed = new ArrayList<>();
        for (JsonNode c : chunks(http.post("/v1/chat/completions", req + ",\"stream\":true}").body())) {
            JsonNode l = c.get("choices").isEmpty() ? null : c.get("choices").get(0).get("logprobs");
            if (l != null && !l.isNull()) for (JsonNode x : l.get("content")) streamed.add(x.get("logprob").asDouble());
        }
        assertEquals(lps, streamed);
        // without logprobs: still null, as before
        assertTrue(http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":2}")
                .json().get("choices").get(0).get("logprobs").isNull());
    }

    /** The legacy shape's token text: the character of an ASCII byte, else {@code bytes:\xNN}. */
    private static String legacy(int id) {
        return id < 128 ? bytesText(id) : id < 256 ? String.format("bytes:\\x%02x", id) : "";
    }

    private static String bytesText(int id) {
        return new String(new byte[] {(byte) id}, java.nio.charset.StandardCharsets.UTF_8);
    }

    private static List<Double> doubles(JsonNode a) {
        List<Double> out = new ArrayList<>();
        for (JsonNode x : a) out.add(x.asDouble());
        return out;
    }

    private static List<JsonNode> chunks(String sse) {
        List<JsonNode> out = new ArrayList<>();
        for (String line : sse.split("\n")) {
            if (line.startsWith("data: {")) out.add(Http.JSON.readTree(line.substring(6)));
        }
        return out;
    }
}
