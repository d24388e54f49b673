package io.engram.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.testsupport.Http;
import io.engram.testsupport.OracleModelDir;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.core.env.Environment;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;

/**
 * The OpenAI-compatible endpoints, checked by a client nobody here wrote: the official {@code openai} npm package
 * (src/test/node) streams a chat completion from a primed state. What it sees must equal {@code /v1/generate} on
 * the rendered chat prompt.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class OpenAiClientTest {

    @DynamicPropertySource
    static void props(DynamicPropertyRegistry r) throws Exception {
        Path models = Files.createTempDirectory("engram-openai-test");
        OracleModelDir.create(models, "tiny");
        r.add("engram.models-dir", models::toString);
    }

    @Autowired
    Environment env;

    @Test
    void officialOpenAiClientStreamsAChatCompletionFromAPrimedState() throws Exception {
        Http http = new Http(Integer.parseInt(env.getProperty("local.server.port")));
        String state = http.post("/v1/states", Map.of("text", "The code of Zorbia is 4417.")).json().get("id").asText();
        String rendered = "User: What is the code?\n\nAssistant:";
        JsonNode direct = http.post("/v1/generate", Map.of("states", List.of(Map.of("id", state)), "prompt", rendered,
                "max_tokens", 12, "temperature", 0, "stop", List.of("\n\nUser:"))).json();

        JsonNode seen = runNode(http.uri("/v1").toString(), state);
        assertEquals("assistant", seen.get("role").asText());
        assertEquals(direct.get("text").asText(), seen.get("text").asText(), "streamed chat text");
        assertEquals(direct.get("text").asText(), seen.get("chat").asText(), "non-streamed chat text");
        assertEquals(direct.get("finish_reason").asText(), seen.get("finish").asText());
        assertEquals("[\"chat.completion.chunk\"]", seen.get("objects").toString());
        assertEquals(direct.get("usage").get("completion_tokens").asInt(), seen.get("usage").get("completion_tokens").asInt());
        assertEquals(direct.get("usage").get("prompt_tokens").asInt(), seen.get("usage").get("prompt_tokens").asInt());
        assertEquals(seen.get("usage").get("prompt_tokens").asInt() + seen.get("usage").get("completion_tokens").asInt(),
                seen.get("usage").get("total_tokens").asInt());
        assertTrue(seen.get("chunks").asInt() >= 3, "role chunk, content chunks, finish chunk, usage chunk");
        // a plain completion on the rendered prompt reads the same (no chat stop string there, so compare a prefix)
        assertTrue(seen.get("completion").asText().startsWith(direct.get("text").asText()), seen.toString());
    }

    /** Runs src/test/node/chat.mjs, installing the pinned openai package first if needed. */
    private static JsonNode runNode(String baseUrl, String state) throws Exception {
        File dir = new File("src/test/node");
        if (!new File(dir, "node_modules/openai").isDirectory()) {
            run(dir, 300, "npm", "ci", "--no-audit", "--no-fund");
        }
        String out = run(dir, 120, "node", "chat.mjs", baseUrl, "tiny", state);
        String last = out.strip().lines().reduce((a, b) -> b).orElse("");
        return Http.JSON.readTree(last);
    }

    private static String run(File dir, int timeoutS, String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).directory(dir).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(timeoutS, TimeUnit.SECONDS), String.join(" ", cmd) + " timed out");
        String s = new String(out, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + " failed:\n" + s);
        return s;
    }
}
