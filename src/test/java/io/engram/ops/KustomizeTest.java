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
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code kubectl kustomize} renders both overlays of {@code k8s/}, with the GPU, probes and monitoring in place. */
class KustomizeTest {

    static final Path ROOT = Path.of("").toAbsolutePath();

    static List<Map<String, Object>> render(String overlay) {
        Path kubectl = Tools.require("kubectl", "ENGRAM_KUBECTL", "run deploy/tools/install-ops-tools.sh");
        Tools.Result r = Tools.run(List.of(kubectl.toString(), "kustomize", "k8s/overlays/" + overlay), ROOT, 60);
        assertEquals(0, r.exit(), r.out());
        return Yamls.all(r.out());
    }

    @Test
    void gpuOverlay() throws Exception {
        List<Map<String, Object>> docs = render("gpu");
        Map<String, Object> pod = at(find(docs, "Deployment"), "spec.template.spec");
        Map<String, Object> c = at(pod, "containers.0");
        assertEquals(1, ((Map<?, ?>) at(c, "resources.limits")).get("nvidia.com/gpu"));
        assertEquals("true", ((Map<?, ?>) pod.get("nodeSelector")).get("nvidia.com/gpu.present"));
        assertEquals("nvidia.com/gpu", at(pod, "tolerations.0.key"));
        assertEquals("engram:0.1.0-cuda", c.get("image"));
        assertEquals("cuda", HelmChartTest.env(c).get("ENGRAM_DEVICE"));
        assertEquals("engram-models", at(pod, "volumes.0.persistentVolumeClaim.claimName"));
        assertNull(at(pod, "volumes.0.emptyDir"), "the PVC replaces the base's emptyDir");
        assertNotNull(find(docs, "PersistentVolumeClaim"));
        HelmChartTest.assertProbesAndShutdown(pod, c);
        assertMonitoring(docs);
    }

    @Test
    void cpuOverlay() throws Exception {
        List<Map<String, Object>> docs = render("cpu");
        Map<String, Object> pod = at(find(docs, "Deployment"), "spec.template.spec");
        Map<String, Object> c = at(pod, "containers.0");
        assertFalse(docs.toString().contains("nvidia"));
        assertEquals("engram:0.1.0", c.get("image"));
        assertEquals("cpu", HelmChartTest.env(c).get("ENGRAM_DEVICE"));
        assertEquals("true", HelmChartTest.env(c).get("ENGRAM_DEMO_ENABLED"));
        HelmChartTest.assertProbesAndShutdown(pod, c);
        assertMonitoring(docs);
    }

    static void assertMonitoring(List<Map<String, Object>> docs) throws Exception {
        Map<String, Object> sm = find(docs, "ServiceMonitor");
        assertNotNull(sm, "ServiceMonitor");
        assertEquals("/actuator/prometheus", at(sm, "spec.endpoints.0.path"));
        assertEquals("http", at(sm, "spec.endpoints.0.port"));
        Map<String, Object> svcSelector = at(find(docs, "Service"), "spec.selector");
        Map<String, Object> smSelector = at(sm, "spec.selector.matchLabels");
        assertTrue(at(find(docs, "Service"), "metadata.labels") instanceof Map<?, ?> labels
                && labels.entrySet().containsAll(smSelector.entrySet()), "the ServiceMonitor must select the Service");
        assertEquals(svcSelector, (Object) at(find(docs, "Deployment"), "spec.selector.matchLabels"));
        assertEquals(Yamls.one(Files.readString(ROOT.resolve("deploy/prometheus/engram-rules.yml"))).get("groups"),
                (Object) at(find(docs, "PrometheusRule"), "spec.groups"), "k8s PrometheusRule must carry engram-rules.yml");
        assertNotNull(find(docs, "PodDisruptionBudget"));
    }
}
