package io.engram.ops;

import static io.engram.testsupport.Yamls.at;
import static io.engram.testsupport.Yamls.find;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.testsupport.Tools;
import io.engram.testsupport.Yamls;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The Helm chart: first without helm (every template parses as YAML once the Helm directives are stripped, every
 * {@code .Values} reference exists, the rules are the shared file), then rendered by a real {@code helm template}
 * for the GPU and CPU values.
 */
class HelmChartTest {

    static final Path ROOT = Path.of("").toAbsolutePath();
    static final Path CHART = ROOT.resolve("helm/engram");

    // ---- without helm -------------------------------------------------------------------------------------------

    /** Drops lines that are only Helm actions and turns inline actions into a placeholder scalar. */
    static String stripHelm(String template) {
        StringBuilder out = new StringBuilder();
        for (String line : template.split("\n", -1)) {
            if (line.strip().matches("(\\{\\{.*?}}\\s*)+")) continue;
            out.append(line.replaceAll("\\{\\{.*?}}", "X")).append('\n');
        }
        return out.toString();
    }

    @Test
    void everyTemplateIsYamlOnceHelmDirectivesAreStripped() throws Exception {
        Set<String> kinds = new HashSet<>();
        try (Stream<Path> s = Files.list(CHART.resolve("templates"))) {
            for (Path t : s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
                List<Map<String, Object>> docs = Yamls.all(stripHelm(Files.readString(t)));
                assertEquals(1, docs.size(), t + " should hold one object");
                Map<String, Object> d = docs.get(0);
                assertNotNull(d.get("apiVersion"), t.toString());
                assertNotNull(at(d, "metadata.name"), t.toString());
                kinds.add((String) d.get("kind"));
            }
        }
        assertEquals(Set.of("Deployment", "Service", "ServiceAccount", "PersistentVolumeClaim", "Secret", "ServiceMonitor",
                "PrometheusRule", "HorizontalPodAutoscaler", "PodDisruptionBudget"), kinds);
    }

    @Test
    void everyValuesReferenceExistsAndTheCpuFileOnlyOverridesKnownKeys() throws Exception {
        Map<String, Object> values = Yamls.one(Files.readString(CHART.resolve("values.yaml")));
        List<String> refs = new ArrayList<>();
        try (Stream<Path> s = Files.list(CHART.resolve("templates"))) {
            for (Path t : s.toList()) {
                Matcher m = Pattern.compile("\\.Values\\.([A-Za-z0-9_.]+)").matcher(Files.readString(t));
                while (m.find()) refs.add(m.group(1).replaceAll("\\.$", ""));
            }
        }
        assertTrue(refs.size() > 50, "references: " + refs.size());
        for (String ref : refs) assertTrue(has(values, ref), ".Values." + ref + " is not in values.yaml");
        Map<String, Object> cpu = Yamls.one(Files.readString(CHART.resolve("values-cpu.yaml")));
        for (String key : leaves(cpu, "")) assertTrue(has(values, key), "values-cpu.yaml sets unknown " + key);
        // helpers used are defined
        String helpers = Files.readString(CHART.resolve("templates/_helpers.tpl"));
        try (Stream<Path> s = Files.list(CHART.resolve("templates"))) {
            for (Path t : s.toList()) {
                Matcher m = Pattern.compile("include \"([a-zA-Z.]+)\"").matcher(Files.readString(t));
                while (m.find()) assertTrue(helpers.contains("define \"" + m.group(1) + "\""), m.group(1) + " in " + t);
            }
        }
    }

    @Test
    void thePrometheusRuleCarriesTheSharedRulesFile() throws Exception {
        assertEquals(Files.readString(ROOT.resolve("deploy/prometheus/engram-rules.yml")),
                Files.readString(CHART.resolve("files/engram-rules.yml")),
                "helm/engram/files/engram-rules.yml must be a copy of deploy/prometheus/engram-rules.yml");
        assertTrue(Files.readString(CHART.resolve("templates/prometheusrule.yaml")).contains(".Files.Get \"files/engram-rules.yml\""));
    }

    static boolean has(Map<String, Object> values, String dotted) {
        Object cur = values;
        for (String part : dotted.split("\\.")) {
            if (!(cur instanceof Map<?, ?> m) || !m.containsKey(part)) return false;
            cur = m.get(part);
        }
        return true;
    }

    static List<String> leaves(Map<String, Object> m, String prefix) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<String, Object> e : m.entrySet()) {
            String k = prefix + e.getKey();
            if (e.getValue() instanceof Map<?, ?> sub && !sub.isEmpty()) {
                @SuppressWarnings("unchecked") Map<String, Object> s = (Map<String, Object>) sub;
                out.addAll(leaves(s, k + "."));
            } else {
                out.add(k);
            }
        }
        return out;
    }

    // ---- with helm ----------------------------------------------------------------------------------------------

    static Path helm() {
        return Tools.require("helm", "ENGRAM_HELM", "run deploy/tools/install-ops-tools.sh");
    }

    static List<Map<String, Object>> template(String... args) {
        List<String> cmd = new ArrayList<>(List.of(helm().toString(), "template", "t", CHART.toString()));
        cmd.addAll(List.of(args));
        Tools.Result r = Tools.run(cmd, ROOT, 60);
        assertEquals(0, r.exit(), r.out());
        return Yamls.all(r.out());
    }

    @Test
    void helmLintPassesForBothValuesFiles() {
        for (List<String> extra : List.of(List.<String>of(), List.of("-f", CHART.resolve("values-cpu.yaml").toString()))) {
            List<String> cmd = new ArrayList<>(List.of(helm().toString(), "lint", "--strict", CHART.toString()));
            cmd.addAll(extra);
            Tools.Result r = Tools.run(cmd, ROOT, 60);
            assertEquals(0, r.exit(), r.out());
        }
    }

    @Test
    void gpuValuesScheduleOnAGpuWithProbesGracefulShutdownAndMonitoring() throws Exception {
        List<Map<String, Object>> docs = template("--set", "serviceMonitor.enabled=true", "--set", "prometheusRule.enabled=true",
                "--set", "autoscaling.enabled=true", "--set", "runtimeClassName=nvidia",
                "--set", "engram.store=redis", "--set", "redis.host=redis.db", "--set", "redis.password=s3cret");
        Map<String, Object> dep = find(docs, "Deployment");
        Map<String, Object> pod = at(dep, "spec.template.spec");
        Map<String, Object> c = at(pod, "containers.0");
        assertEquals(1, ((Map<?, ?>) at(c, "resources.limits")).get("nvidia.com/gpu"));
        assertEquals("true", ((Map<?, ?>) pod.get("nodeSelector")).get("nvidia.com/gpu.present"));
        assertEquals("nvidia.com/gpu", at(pod, "tolerations.0.key"));
        assertEquals("nvidia", pod.get("runtimeClassName"));
        assertNull(dep.get("spec") instanceof Map<?, ?> s ? s.get("replicas") : null, "the HPA owns replicas");
        Map<String, String> env = env(c);
        assertEquals("cuda", env.get("ENGRAM_DEVICE"));
        assertEquals("redis", env.get("ENGRAM_STORE"));
        assertEquals("redis.db", env.get("SPRING_DATA_REDIS_HOST"));
        assertProbesAndShutdown(pod, c);
        Map<String, Object> secret = named(docs, "Secret", "t-engram-redis");
        assertEquals("t-engram-redis", (Object) at(c, "env." + indexOf(c, "SPRING_DATA_REDIS_PASSWORD") + ".valueFrom.secretKeyRef.name"));
        assertEquals(java.util.Base64.getEncoder().encodeToString("s3cret".getBytes()), at(secret, "data.redis-password"));
        assertEquals("/actuator/prometheus", at(find(docs, "ServiceMonitor"), "spec.endpoints.0.path"));
        assertEquals((Object) at(find(docs, "Service"), "spec.selector"), (Object) at(find(docs, "ServiceMonitor"), "spec.selector.matchLabels"));
        assertEquals(Yamls.one(Files.readString(ROOT.resolve("deploy/prometheus/engram-rules.yml"))).get("groups"),
                (Object) at(find(docs, "PrometheusRule"), "spec.groups"));
        assertEquals("engram_requests_waiting", at(find(docs, "HorizontalPodAutoscaler"), "spec.metrics.0.pods.metric.name"));
        assertEquals(1, (Integer) at(find(docs, "PodDisruptionBudget"), "spec.maxUnavailable"));
        assertEquals(true, at(c, "volumeMounts.0.readOnly"));
        assertEquals("t-engram-models", at(pod, "volumes.0.persistentVolumeClaim.claimName"));
        assertNotNull(find(docs, "PersistentVolumeClaim"));
    }

    @Test
    void anExistingSecretIsReferencedAndNoneIsCreated() {
        List<Map<String, Object>> docs = template("--set", "engram.store=redis", "--set", "redis.host=r",
                "--set", "redis.existingSecret=shared-redis", "--set", "redis.existingSecretPasswordKey=pw");
        Map<String, Object> c = at(find(docs, "Deployment"), "spec.template.spec.containers.0");
        int i = indexOf(c, "SPRING_DATA_REDIS_PASSWORD");
        assertEquals("shared-redis", at(c, "env." + i + ".valueFrom.secretKeyRef.name"));
        assertEquals("pw", at(c, "env." + i + ".valueFrom.secretKeyRef.key"));
        assertNull(named(docs, "Secret", "t-engram-redis"));
    }

    @Test
    void aRedisClusterIsNamedByItsNodesInsteadOfHostAndPort() {
        List<Map<String, Object>> docs = template("--set", "engram.store=redis",
                "--set", "redis.clusterNodes={redis-0.redis:6379,redis-1.redis:6379,redis-2.redis:6379}",
                "--set", "redis.existingSecret=shared-redis");
        Map<String, Object> c = at(find(docs, "Deployment"), "spec.template.spec.containers.0");
        Map<String, String> env = env(c);
        assertEquals("redis-0.redis:6379,redis-1.redis:6379,redis-2.redis:6379", env.get("SPRING_DATA_REDIS_CLUSTER_NODES"));
        assertNull(env.get("SPRING_DATA_REDIS_HOST"), "host/port would be ignored beside cluster nodes: not set");
        assertNull(env.get("SPRING_DATA_REDIS_DATABASE"));
        assertEquals("shared-redis", at(c, "env." + indexOf(c, "SPRING_DATA_REDIS_PASSWORD") + ".valueFrom.secretKeyRef.name"));
    }

    // ---- security ------------------------------------------------------------------------------------------------

    @Test
    void authenticationIsOnByDefaultWithAGeneratedKeyMountedFromASecretAndTheActuatorOnAnInternalPort() throws Exception {
        List<Map<String, Object>> docs = template("--set", "serviceMonitor.enabled=true");
        Map<String, Object> pod = at(find(docs, "Deployment"), "spec.template.spec");
        Map<String, Object> c = at(pod, "containers.0");
        // a generated key for tenant 'default', in a Secret mounted read-only as the keys file
        Map<String, Object> secret = named(docs, "Secret", "t-engram-api-keys");
        String keys = new String(java.util.Base64.getDecoder().decode((String) at(secret, "data.api-keys")));
        assertTrue(keys.matches("default:[A-Za-z0-9]{48}"), keys);
        assertEquals("/etc/engram/api-keys/api-keys", env(c).get("ENGRAM_SECURITY_API_KEYS_FILE"));
        assertFalse(env(c).containsKey("ENGRAM_SECURITY_API_KEYS"), "keys never in plain env");
        int v = volumeIndex(pod, "api-keys");
        assertEquals("t-engram-api-keys", at(pod, "volumes." + v + ".secret.secretName"));
        assertEquals(288, (Integer) at(pod, "volumes." + v + ".secret.defaultMode"));
        assertTrue(((List<?>) at(c, "volumeMounts")).stream().anyMatch(m -> m instanceof Map<?, ?> mm
                && "/etc/engram/api-keys".equals(mm.get("mountPath")) && Boolean.TRUE.equals(mm.get("readOnly"))));
        assertEquals("50", env(c).get("ENGRAM_SECURITY_RATE_LIMIT_REQUESTS_PER_SECOND"));
        assertEquals("1000000", env(c).get("ENGRAM_SECURITY_RATE_LIMIT_TOKENS_PER_MINUTE"));
        // the actuator on the management port, served by a ClusterIP Service of its own and scraped there
        assertEquals("9090", env(c).get("MANAGEMENT_SERVER_PORT"));
        assertEquals("management", at(c, "livenessProbe.httpGet.port"));
        assertEquals("management", at(c, "readinessProbe.httpGet.port"));
        Map<String, Object> mgmt = named(docs, "Service", "t-engram-management");
        assertEquals("ClusterIP", at(mgmt, "spec.type"));
        assertEquals("management", at(mgmt, "spec.ports.0.name"));
        assertEquals("management", at(find(docs, "ServiceMonitor"), "spec.endpoints.0.port"));
        List<?> apiPorts = at(named(docs, "Service", "t-engram"), "spec.ports");
        assertEquals(1, apiPorts.size(), "the API Service exposes only the API port");
        // even a public API Service keeps the actuator inside the cluster
        List<Map<String, Object>> lb = template("--set", "service.type=LoadBalancer");
        assertEquals("ClusterIP", at(named(lb, "Service", "t-engram-management"), "spec.type"));
    }

    @Test
    void keysFromValuesOrAnExistingSecretTenantLimitsCorsAndTurningThingsOff() {
        List<Map<String, Object>> given = template("--set", "security.apiKeys=alice:k-0123456789abcdef",
                "--set", "security.rateLimit.tenants.alice.requestsPerSecond=10",
                "--set", "security.rateLimit.tenants.Bob\\.x.tokensPerMinute=2000000",
                "--set", "security.cors.allowedOrigins={https://a.example,https://b.example}");
        assertEquals("alice:k-0123456789abcdef", new String(java.util.Base64.getDecoder().decode(
                (String) at(named(given, "Secret", "t-engram-api-keys"), "data.api-keys"))));
        Map<String, String> env = env(at(find(given, "Deployment"), "spec.template.spec.containers.0"));
        assertEquals("https://a.example,https://b.example", env.get("ENGRAM_SECURITY_CORS_ALLOWED_ORIGINS"));
        // bracketed keys keep tenant names with dots and capitals whole; numbers stay integers
        Map<String, Object> json = Yamls.one(env.get("SPRING_APPLICATION_JSON"));
        Map<String, Map<String, Object>> tenants = at(json, "engram.security.rate-limit.tenants");
        assertEquals(10, tenants.get("[alice]").get("requests-per-second"));
        assertEquals(2000000, tenants.get("[Bob.x]").get("tokens-per-minute"));

        List<Map<String, Object>> existing = template("--set", "security.existingSecret=team-keys",
                "--set", "security.existingSecretKey=keys.txt");
        Map<String, Object> pod = at(find(existing, "Deployment"), "spec.template.spec");
        assertNull(named(existing, "Secret", "t-engram-api-keys"));
        assertEquals("team-keys", at(pod, "volumes." + volumeIndex(pod, "api-keys") + ".secret.secretName"));
        assertEquals("/etc/engram/api-keys/keys.txt", env(at(pod, "containers.0")).get("ENGRAM_SECURITY_API_KEYS_FILE"));

        List<Map<String, Object>> off = template("--set", "security.enabled=false", "--set", "management.port=0");
        Map<String, Object> c = at(find(off, "Deployment"), "spec.template.spec.containers.0");
        assertNull(named(off, "Secret", "t-engram-api-keys"));
        assertNull(named(off, "Service", "t-engram-management"));
        assertFalse(env(c).containsKey("ENGRAM_SECURITY_API_KEYS_FILE"));
        assertFalse(env(c).containsKey("MANAGEMENT_SERVER_PORT"));
        assertEquals("http", at(c, "livenessProbe.httpGet.port"));
    }

    static Map<String, Object> named(List<Map<String, Object>> docs, String kind, String name) {
        for (Map<String, Object> d : docs) if (kind.equals(d.get("kind")) && name.equals(at(d, "metadata.name"))) return d;
        return null;
    }

    static int volumeIndex(Map<String, Object> pod, String name) {
        List<Map<String, Object>> vs = at(pod, "volumes");
        for (int i = 0; i < vs.size(); i++) if (name.equals(vs.get(i).get("name"))) return i;
        throw new AssertionError("no volume " + name);
    }

    @Test
    void cpuValuesRenderNoGpuAndServeTheDemoFromAnEmptyDir() {
        List<Map<String, Object>> docs = template("-f", CHART.resolve("values-cpu.yaml").toString(),
                "--set", "models.initContainer.enabled=true");
        Map<String, Object> pod = at(find(docs, "Deployment"), "spec.template.spec");
        Map<String, Object> c = at(pod, "containers.0");
        assertFalse(docs.toString().contains("nvidia"), "no GPU in the CPU rendering");
        assertNull(pod.get("nodeSelector"));
        assertEquals("cpu", env(c).get("ENGRAM_DEVICE"));
        assertEquals("true", env(c).get("ENGRAM_DEMO_ENABLED"));
        assertNotNull(at(pod, "volumes.0.emptyDir"));
        assertEquals("models", at(pod, "initContainers.0.name"));
        assertNull(find(docs, "PersistentVolumeClaim"));
        assertNull(find(docs, "ServiceMonitor"));
        assertNull(find(docs, "HorizontalPodAutoscaler"));
        assertEquals(1, (Integer) at(find(docs, "Deployment"), "spec.replicas"));
        assertProbesAndShutdown(pod, c);
    }

    static void assertProbesAndShutdown(Map<String, Object> pod, Map<String, Object> c) {
        assertEquals("/actuator/health/liveness", at(c, "livenessProbe.httpGet.path"));
        assertEquals("/actuator/health/readiness", at(c, "readinessProbe.httpGet.path"));
        assertEquals("/actuator/health/liveness", at(c, "startupProbe.httpGet.path"));
        int startup = (Integer) at(c, "startupProbe.periodSeconds") * (Integer) at(c, "startupProbe.failureThreshold");
        assertTrue(startup >= 600, "the startup probe must allow minutes of model loading, not " + startup + " s");
        List<String> preStop = at(c, "lifecycle.preStop.exec.command");
        int sleep = Integer.parseInt(preStop.get(1));
        int phase = Integer.parseInt(env(c).get("SPRING_LIFECYCLE_TIMEOUT_PER_SHUTDOWN_PHASE").replace("s", ""));
        assertTrue((Integer) pod.get("terminationGracePeriodSeconds") > sleep + phase,
                "terminationGracePeriodSeconds must cover preStop + the shutdown phase");
        assertEquals(Boolean.TRUE, (Object) at(pod, "securityContext.runAsNonRoot"));
        assertEquals(Boolean.TRUE, (Object) at(c, "securityContext.readOnlyRootFilesystem"));
    }

    static Map<String, String> env(Map<String, Object> container) {
        Map<String, String> out = new java.util.LinkedHashMap<>();
        List<Map<String, Object>> env = at(container, "env");
        for (Map<String, Object> e : env) out.put((String) e.get("name"), e.get("value") == null ? null : String.valueOf(e.get("value")));
        return out;
    }

    static int indexOf(Map<String, Object> container, String name) {
        List<Map<String, Object>> env = at(container, "env");
        for (int i = 0; i < env.size(); i++) if (name.equals(env.get(i).get("name"))) return i;
        throw new AssertionError(name + " not in env");
    }
}
