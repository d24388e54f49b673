package io.engram.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.model.rwkv7.Rwkv7Model;
import io.engram.testsupport.OracleModelDir;
import io.engram.testsupport.TestApp;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The served-format settings through the real application start-up: a good one is used, a bad one stops start-up. */
class ServeDtypeStartupTest {

    @TempDir
    Path tmp;

    @Test
    void perModelSettingReachesTheModel() throws Exception {
        OracleModelDir.create(tmp, "m");
        try (TestApp app = TestApp.start(tmp, "engram.serve-dtype=bfloat16", "engram.models.m.serve-dtype=int8")) {
            Rwkv7Model model = (Rwkv7Model) app.bean(ModelRegistry.class).find("m").orElseThrow().model();
            assertTrue(model.serveDtype() == io.engram.weights.ServeDtype.INT8, "per-model wins: " + model.serveDtype());
            assertEquals("int8", app.http().get("/v1/models").json().get("data").get(0).get("serve_dtype").asText(),
                    "/v1/models says which format decode reads");
        }
    }

    @Test
    void badValueStopsStartUpNamingTheSetting() throws Exception {
        OracleModelDir.create(tmp, "m");
        Exception e = assertThrows(Exception.class, () -> TestApp.start(tmp, "engram.serve-dtype=fp8").close());
        assertTrue(messages(e).contains("serveDtype") || messages(e).contains("serve-dtype"), messages(e));
        Exception u = assertThrows(Exception.class, () -> TestApp.start(tmp, "engram.models.nope.serve-dtype=int8").close());
        assertTrue(messages(u).contains("engram.models.nope configures a model that is not in"), messages(u));
    }

    static String messages(Throwable t) {
        StringBuilder b = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) b.append(c.getMessage()).append(" | ");
        return b.toString();
    }
}
