package io.engram.ops;

import static io.engram.testsupport.Yamls.at;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.testsupport.Http;
import io.engram.testsupport.Yamls;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** docker-compose.yml (no Docker engine here): its services, and that every file it mounts exists and fits. */
class ComposeTest {

    static final Path ROOT = Path.of("").toAbsolutePath();

    @Test
    void theStackHasEngramRedisPrometheusAndAProvisionedGrafana() throws Exception {
        Map<String, Object> compose = Yamls.one(Files.readString(ROOT.resolve("docker-compose.yml")));
        Map<String, Object> services = at(compose, "services");
        assertEquals(List.of("engram", "redis", "prometheus", "grafana"), List.copyOf(services.keySet()));

        // every bind mount of the repository exists
        for (Map.Entry<String, Object> s : services.entrySet()) {
            List<String> volumes = at(s.getValue(), "volumes");
            for (String v : volumes == null ? List.<String>of() : volumes) {
                String source = v.split(":")[0];
                if (source.startsWith("./")) assertTrue(Files.exists(ROOT.resolve(source)), s.getKey() + " mounts " + source);
            }
        }
        // Engram: the image's Dockerfile, the models folder, a stop grace period above the streams' shutdown phase
        assertTrue(String.valueOf((Object) at(compose, "services.engram.build.dockerfile")).contains("Dockerfile"));
        assertEquals("/app/models", at(compose, "services.engram.environment.ENGRAM_MODELS_DIR"));
        assertEquals("redis://redis:6379", at(compose, "services.engram.environment.SPRING_DATA_REDIS_URL"));
        assertEquals("${ENGRAM_STORE:-redis}", at(compose, "services.engram.environment.ENGRAM_STORE"));
        int grace = Integer.parseInt(String.valueOf((Object) at(compose, "services.engram.stop_grace_period")).replace("s", ""));
        int phase = Integer.parseInt(String.valueOf((Object) at(compose, "services.engram.environment.SPRING_LIFECYCLE_TIMEOUT_PER_SHUTDOWN_PHASE")).replace("s", ""));
        assertTrue(grace > phase, "stop_grace_period must exceed the shutdown phase");

        // Redis persistence as documented: AOF every second, no snapshots, no eviction (blob and metadata live together)
        List<String> redis = at(compose, "services.redis.command");
        String cmd = String.join(" ", redis);
        assertTrue(cmd.contains("--appendonly yes") && cmd.contains("--appendfsync everysec") && cmd.contains("--save ")
                && cmd.contains("--maxmemory-policy noeviction"), cmd);

        // Prometheus loads the shared rules where its config says
        Map<String, Object> prom = Yamls.one(Files.readString(ROOT.resolve("deploy/prometheus/prometheus.yml")));
        List<String> ruleFiles = at(prom, "rule_files");
        List<String> promVolumes = at(compose, "services.prometheus.volumes");
        assertTrue(promVolumes.contains("./deploy/prometheus/engram-rules.yml:" + ruleFiles.get(0) + ":ro"), promVolumes.toString());
        assertEquals("/actuator/prometheus", at(prom, "scrape_configs.0.metrics_path"));
        assertEquals(List.of("engram:8080"), at(prom, "scrape_configs.0.static_configs.0.targets"));

        // Grafana: the provisioned dashboard folder holds the dashboard, whose datasource variable finds Prometheus
        Map<String, Object> provider = Yamls.one(Files.readString(ROOT.resolve("deploy/grafana/provisioning/dashboards/engram.yml")));
        String path = at(provider, "providers.0.options.path");
        List<String> grafanaVolumes = at(compose, "services.grafana.volumes");
        assertTrue(grafanaVolumes.contains("./deploy/grafana/engram.json:" + path + "/engram.json:ro"), grafanaVolumes.toString());
        Map<String, Object> ds = Yamls.one(Files.readString(ROOT.resolve("deploy/grafana/provisioning/datasources/prometheus.yml")));
        assertEquals("prometheus", at(ds, "datasources.0.type"));
        assertEquals("http://prometheus:9090", at(ds, "datasources.0.url"));
        JsonNode dash = Http.JSON.readTree(ROOT.resolve("deploy/grafana/engram.json").toFile());
        assertEquals("engram", dash.get("uid").asText());
        assertEquals("prometheus", dash.get("templating").get("list").get(0).get("query").asText());
    }

    @Test
    void dashboardPanelsAreLaidOutAndEachHasAQuery() throws Exception {
        JsonNode dash = Http.JSON.readTree(ROOT.resolve("deploy/grafana/engram.json").toFile());
        int panels = 0;
        for (JsonNode p : dash.get("panels")) {
            if (p.get("type").asText().equals("row")) continue;
            panels++;
            assertTrue(p.get("targets").size() > 0, p.get("title").asText());
            JsonNode g = p.get("gridPos");
            assertTrue(g.get("x").asInt() + g.get("w").asInt() <= 24, p.get("title").asText());
            for (JsonNode t : p.get("targets")) assertTrue(t.get("expr").asText().matches("(?s).*(engram|process_|jvm_).*"), t.toString());
        }
        assertTrue(panels >= 15, "panels: " + panels);
    }
}
