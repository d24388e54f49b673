package io.engram.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.engram.testsupport.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code promtool} on what ships: the rules (syntax and unit tests of every alert) and compose's Prometheus config. */
class PromtoolTest {

    static final Path ROOT = Path.of("").toAbsolutePath();
    static final Path DIR = ROOT.resolve("deploy/prometheus");

    Path promtool() {
        return Tools.require("promtool", "ENGRAM_PROMTOOL", "apt-get install prometheus (it provides promtool)");
    }

    @Test
    void rulesAreValid() {
        Tools.Result r = Tools.run(List.of(promtool().toString(), "check", "rules", "engram-rules.yml"), DIR, 60);
        assertEquals(0, r.exit(), r.out());
    }

    @Test
    void everyAlertFiresOnItsScenarioAndNotBefore() {
        Tools.Result r = Tools.run(List.of(promtool().toString(), "test", "rules", "engram-rules.test.yml"), DIR, 120);
        assertEquals(0, r.exit(), r.out());
    }

    @Test
    void composePrometheusConfigIsValid() throws Exception {
        // compose mounts the rules at /etc/prometheus/rules; point the check at the file in the repository
        Path tmp = Files.createTempDirectory("engram-promtool");
        String config = Files.readString(DIR.resolve("prometheus.yml"))
                .replace("/etc/prometheus/rules/engram-rules.yml", DIR.resolve("engram-rules.yml").toString());
        Files.writeString(tmp.resolve("prometheus.yml"), config);
        Tools.Result r = Tools.run(List.of(promtool().toString(), "check", "config", "prometheus.yml"), tmp, 60);
        assertEquals(0, r.exit(), r.out());
    }
}
