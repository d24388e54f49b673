package io.engram.state;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.engram.testsupport.Http;
import io.engram.testsupport.OracleModelDir;
import io.engram.testsupport.TestApp;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * What a combined state holds as its next-token logits (docs/COMPOSABLE_MEMORY.md, "Next-token logits of a
 * combined state"): the weighted mean of its components' logits, the same weights as the state mean. A model's
 * logits are a function of its last output, which a state does not hold, so they cannot be recomputed from the
 * combined state; with a prompt, generation reads the prompt from the combined state and never uses them.
 */
class CombinedLogitsTest {

    @Test
    void aCombinedStateCarriesTheWeightedMeanOfItsComponentsLogits() throws Exception {
        Path models = Files.createTempDirectory("engram-combined-logits");
        OracleModelDir.create(models, "tiny");
        try (TestApp app = TestApp.start(models)) {
            Http http = app.http();
            String a = http.post("/v1/states", "{\"text\":\"The code of Zorbel is 4417.\"}").json().get("id").asText();
            String b = http.post("/v1/states", "{\"text\":\"Mirela lives in Oslo.\"}").json().get("id").asText();
            String c = http.post("/v1/states/combine", "{\"states\":[{\"id\":\"" + a + "\",\"weight\":1},{\"id\":\"" + b
                    + "\",\"weight\":3}]}").json().get("id").asText();
            float[] la = logits(http, a), lb = logits(http, b), lc = logits(http, c);
            int best = 0;
            for (int i = 0; i < lc.length; i++) {
                assertEquals(0.25 * la[i] + 0.75 * lb[i], lc[i], 1e-5, "logit " + i);
                if (lc[i] > lc[best]) best = i;
            }
            // generation with no prompt continues from exactly these logits: greedy takes their argmax
            var r = http.post("/v1/generate", "{\"states\":[{\"id\":\"" + c + "\"}],\"max_tokens\":1,\"temperature\":0}").json();
            assertEquals(best, r.get("tokens").get(0).asInt());
        }
    }

    private static float[] logits(Http http, String id) {
        return StateCodec.parse(http.getBytes("/v1/states/" + id + "/blob").body()).lastLogits();
    }
}
