package io.engram.model;

import ai.djl.Device;
import ai.djl.engine.Engine;
import io.engram.config.EngramProperties;
import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.engram.model.demo.DemoModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.stereotype.Component;

/**
 * Every model under {@code engram.models-dir}, loaded at start-up: the server does not take traffic before all of
 * them are loaded, and a corrupt checkpoint stops start-up with a message naming the file and tensor.
 */
@Component
public class ModelRegistry implements DisposableBean {

    private static final Logger log = LoggerFactory.getLogger(ModelRegistry.class);

    private final Map<String, LoadedModel> models = new LinkedHashMap<>();
    private final String defaultId;
    private final Device device;

    public ModelRegistry(EngramProperties props) throws IOException {
        this.device = resolveDevice(props.device());
        Path dir = props.modelsDir().toAbsolutePath().normalize();
        if (props.demo().enabled() && DemoModel.shouldCreate(dir)) {
            boolean trained = DemoModel.install(dir.resolve(DemoModel.ID));
            log.info("No model folders in {}: installed the {} demo model in {}/demo", dir,
                    trained ? "trained (fact recall)" : "random-weight", dir);
        }
        if (!Files.isDirectory(dir)) {
            throw new IllegalStateException("engram.models-dir " + dir + " does not exist: create it with one folder per model");
        }
        ModelDirectory.Options options = new ModelDirectory.Options(device, props.scheduler().chunkTokens(),
                props.scheduler().cpuDecodeKernels(), props.retnet().chunkSize(), props.serveDtype(), modelServeDtypes(props),
                props.weightsMemory());
        try (Stream<Path> children = Files.list(dir)) {
            for (Path p : children.filter(Files::isDirectory).sorted().toList()) {
                String id = p.getFileName().toString();
                long t0 = System.nanoTime();
                LoadedModel m = ModelDirectory.load(id, p, options);
                models.put(id, m);
                log.info("Loaded model '{}' ({}, {} layers, {} parameters, {}, served as {}{}) in {} ms, fingerprint {}", id,
                        m.architecture(), m.model().layers(), m.model().parameters(), m.weightsDtype(),
                        m.model() instanceof io.engram.model.rwkv7.Rwkv7Model r ? r.serveDtype() : "float32",
                        m.model() instanceof io.engram.model.rwkv7.Rwkv7Model r && r.offHeapWeightBytes() > 0
                                ? String.format(", %.0f MiB off the Java heap", r.offHeapWeightBytes() / 1048576.0) : "",
                        (System.nanoTime() - t0) / 1_000_000, m.fingerprint());
            }
        }
        for (String id : props.models().keySet()) {
            if (!models.containsKey(id)) {
                throw new IllegalStateException("engram.models." + id + " configures a model that is not in " + dir
                        + " (loaded: " + models.keySet() + ")");
            }
        }
        if (models.isEmpty()) {
            throw new IllegalStateException("no model folders in " + dir + " (engram.models-dir)");
        }
        String wanted = props.defaultModel();
        if (!wanted.isEmpty() && !models.containsKey(wanted)) {
            throw new IllegalStateException("engram.default-model '" + wanted + "' is not one of " + models.keySet());
        }
        defaultId = wanted.isEmpty() ? models.keySet().iterator().next() : wanted;
    }

    private static Map<String, String> modelServeDtypes(EngramProperties props) {
        Map<String, String> m = new LinkedHashMap<>();
        props.models().forEach((id, s) -> {
            if (s != null && s.serveDtype() != null && !s.serveDtype().isBlank()) m.put(id, s.serveDtype());
        });
        return m;
    }

    static Device resolveDevice(String setting) {
        if (setting.equals("cpu")) return Device.cpu();
        int gpus = Engine.getInstance().getGpuCount();
        if (setting.equals("auto")) return gpus > 0 ? Device.gpu() : Device.cpu();
        int n = setting.startsWith("cuda:") ? Integer.parseInt(setting.substring(5)) : 0;
        if (n >= gpus) {
            throw new IllegalStateException("engram.device=" + setting + " but this machine has " + gpus + " CUDA device(s)");
        }
        return Device.gpu(n);
    }

    /**
     * The model named {@code id} (null or blank: the default model), for a request. A model id is a folder name
     * and nothing else: anything but {@code [A-Za-z0-9._-]} (or {@code .}/{@code ..}) is refused before any lookup.
     */
    public LoadedModel require(String id) {
        if (id != null && !id.isBlank() && !isModelId(id)) {
            throw new EngramException(ProblemType.INVALID_REQUEST, "'model' must be a model id: a folder name of at most "
                    + "128 letters, digits, '.', '_' or '-' (GET /v1/models lists them)");
        }
        return find(id).orElseThrow(() -> new EngramException(ProblemType.UNKNOWN_MODEL,
                "model '" + id + "' is not loaded; GET /v1/models lists the available ids"));
    }

    private static final Pattern MODEL_ID = Pattern.compile("[A-Za-z0-9._-]{1,128}");

    public static boolean isModelId(String id) {
        return id != null && MODEL_ID.matcher(id).matches() && !id.equals(".") && !id.equals("..");
    }

    /** The model whose fingerprint is {@code fingerprint} (a state blob names the model that made it). */
    public Optional<LoadedModel> byFingerprint(String fingerprint) {
        return models.values().stream().filter(m -> m.fingerprint().equals(fingerprint)).findFirst();
    }

    /** The model named {@code id}, or the default model when {@code id} is null or blank. */
    public Optional<LoadedModel> find(String id) {
        return Optional.ofNullable(models.get(id == null || id.isBlank() ? defaultId : id));
    }

    public Collection<LoadedModel> all() {
        return models.values();
    }

    public String defaultId() {
        return defaultId;
    }

    public Device device() {
        return device;
    }

    @Override
    public void destroy() {
        models.values().forEach(m -> m.model().close());
    }
}
