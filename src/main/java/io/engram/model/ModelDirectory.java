package io.engram.model;

import ai.djl.Device;
import io.engram.model.retnet.RetNetConfig;
import io.engram.model.retnet.RetNetModel;
import io.engram.model.retnet.RetNetWeights;
import io.engram.model.rwkv7.Rwkv7Model;
import io.engram.model.rwkv7.Rwkv7Weights;
import io.engram.tokenizer.Tokenizer;
import io.engram.tokenizer.Tokenizers;
import io.engram.weights.Checkpoint;
import io.engram.weights.CheckpointException;
import io.engram.weights.Checkpoints;
import io.engram.weights.ServeDtype;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.json.JsonMapper;

/**
 * Loads one model folder as described in the API spec ("Model directory"):
 * {@code config.json} (architecture, tokenizer, and for RetNet its hyperparameters), the weights
 * ({@code model.safetensors}, a sharded set with its index, or one {@code *.pth}) and the tokenizer's file.
 */
public final class ModelDirectory {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    /**
     * How to place and run a model.
     *
     * @param chunkTokens      RWKV-7: tokens per batched chunk when reading documents
     * @param retnetChunkSize  RetNet: tokens per chunk of the chunkwise paradigm; 0 = the config's recurrent_chunk_size
     * @param weightsMemory    RWKV-7 on the CPU: where the served weights live, {@code heap}, {@code native} or
     *                         {@code auto} (empty): see {@link #offHeap}
     */
    public record Options(Device device, int chunkTokens, boolean cpuDecodeKernels, int retnetChunkSize,
                          String serveDtype, Map<String, String> modelServeDtypes, String weightsMemory) {

        public Options {
            serveDtype = serveDtype == null ? "" : serveDtype;
            modelServeDtypes = modelServeDtypes == null ? Map.of() : Map.copyOf(modelServeDtypes);
            weightsMemory = weightsMemory == null || weightsMemory.isBlank() ? "auto" : weightsMemory;
            if (!weightsMemory.matches("auto|heap|native")) {
                throw new IllegalArgumentException("engram.weights-memory is '" + weightsMemory + "': must be auto, heap or native");
            }
        }

        public Options(Device device, int chunkTokens, boolean cpuDecodeKernels, int retnetChunkSize) {
            this(device, chunkTokens, cpuDecodeKernels, retnetChunkSize, "", Map.of(), "auto");
        }

        public Options(Device device, int chunkTokens, boolean cpuDecodeKernels) {
            this(device, chunkTokens, cpuDecodeKernels, 0);
        }

        /** The same options serving every model in {@code dtype} (as {@code engram.serve-dtype} does). */
        public Options withServeDtype(String dtype) {
            return new Options(device, chunkTokens, cpuDecodeKernels, retnetChunkSize, dtype, modelServeDtypes, weightsMemory);
        }

        /** The same options with {@code engram.weights-memory} set to {@code memory}. */
        public Options withWeightsMemory(String memory) {
            return new Options(device, chunkTokens, cpuDecodeKernels, retnetChunkSize, serveDtype, modelServeDtypes, memory);
        }
    }

    /**
     * Share of the maximum heap that served weights may take before {@code auto} puts them off the heap. Java
     * arrays decode faster on JDK 17 (docs/PERFORMANCE.md), so they are used wherever the heap can hold them with
     * room left for requests, states and the store.
     */
    static final double AUTO_HEAP_SHARE = 0.4;

    /**
     * Whether a model whose served weights take {@code servedBytes} goes off the heap: {@code native} always,
     * {@code heap} never, {@code auto} when they exceed {@link #AUTO_HEAP_SHARE} of {@code maxHeap}.
     */
    static boolean offHeap(String weightsMemory, long servedBytes, long maxHeap) {
        return switch (weightsMemory) {
            case "native" -> true;
            case "heap" -> false;
            default -> servedBytes > AUTO_HEAP_SHARE * maxHeap;
        };
    }

    /**
     * The served weight format of model {@code id}: {@code engram.models.<id>.serve-dtype}, else
     * {@code engram.serve-dtype}, else config.json's {@code "serve_dtype"}, else float32.
     */
    static ServeDtype serveDtype(String id, Path configFile, ModelConfig config, Options options) {
        String own = options.modelServeDtypes().getOrDefault(id, "");
        try {
            if (!own.isBlank()) return ServeDtype.parse(own, "engram.models." + id + ".serve-dtype");
            if (!options.serveDtype().isBlank()) return ServeDtype.parse(options.serveDtype(), "engram.serve-dtype");
            Object v = config.raw().get("serve_dtype");
            if (v == null) return ServeDtype.FLOAT32;
            return ServeDtype.parse(String.valueOf(v), configFile + ": \"serve_dtype\"");
        } catch (IllegalArgumentException e) {
            throw new CheckpointException("model '" + id + "': " + e.getMessage(), e);
        }
    }

    private ModelDirectory() {}

    /** Parsed {@code config.json}: architecture, tokenizer and every other key as given. */
    public record ModelConfig(String architecture, String tokenizer, String description, ChatTemplate chatTemplate,
                              Map<String, Object> raw) {

        @SuppressWarnings("unchecked")
        static ModelConfig read(Path file) {
            if (!Files.isRegularFile(file)) {
                throw new CheckpointException("missing " + file + ": every model folder needs a config.json with "
                        + "{\"architecture\": \"rwkv7\" | \"retnet\", \"tokenizer\": \"rwkv-world\" | \"bytes\" | \"hf\"}");
            }
            Map<String, Object> m;
            try {
                m = JSON.readValue(file.toFile(), Map.class);
            } catch (RuntimeException e) {
                throw new CheckpointException("cannot parse " + file + ": " + e.getMessage(), e);
            }
            Object arch = m.get("architecture");
            if (!(arch instanceof String a) || !(a.equals("rwkv7") || a.equals("retnet"))) {
                throw new CheckpointException(file + ": \"architecture\" must be \"rwkv7\" or \"retnet\", got " + arch);
            }
            Object tok = m.getOrDefault("tokenizer", "rwkv-world");
            Object desc = m.getOrDefault("description", "");
            ChatTemplate chat;
            try {
                chat = ChatTemplate.fromConfig(m.get("chat_template"));
            } catch (IllegalArgumentException e) {
                throw new CheckpointException(file + ": " + e.getMessage(), e);
            }
            return new ModelConfig(a, String.valueOf(tok), String.valueOf(desc), chat, m);
        }
    }

    /** Loads {@code dir} as model {@code id}. Any problem is a {@link CheckpointException} naming the file. */
    public static LoadedModel load(String id, Path dir, Options options) throws IOException {
        ModelConfig config = ModelConfig.read(dir.resolve("config.json"));
        ServeDtype serve = serveDtype(id, dir.resolve("config.json"), config, options);
        if (serve != ServeDtype.FLOAT32 && !config.architecture().equals("rwkv7")) {
            throw new CheckpointException("model '" + id + "': serve dtype " + serve + " is only implemented for rwkv7 "
                    + "(its CPU decode kernels); serve this " + config.architecture() + " model as float32");
        }
        Tokenizer tokenizer;
        try {
            tokenizer = Tokenizers.load(config.tokenizer(), dir);
        } catch (IllegalArgumentException | IOException e) {
            throw new CheckpointException("model '" + id + "': " + e.getMessage(), e);
        }
        try (Checkpoint ck = Checkpoints.open(dir)) {
            String fingerprint = fingerprint(dir.resolve("config.json"), ck.files(), serve);
            String dtype = dominantDtype(ck, config.architecture());
            LanguageModel model = switch (config.architecture()) {
                case "rwkv7" -> {
                    Rwkv7Weights w = Rwkv7Weights.read(ck);
                    boolean offHeap = options.cpuDecodeKernels() && !options.device().isGpu()
                            && offHeap(options.weightsMemory(), w.config.servedBytes(serve), Runtime.getRuntime().maxMemory());
                    try {
                        Rwkv7Model m = new Rwkv7Model(w, options.device(), options.chunkTokens(), options.cpuDecodeKernels(), serve, offHeap);
                        m.releaseCheckpointTensors();            // the weights were read for this model only
                        yield m;
                    } catch (IllegalArgumentException e) {
                        throw new CheckpointException("model '" + id + "': " + e.getMessage(), e);
                    }
                }
                case "retnet" -> new RetNetModel(RetNetWeights.read(ck, RetNetConfig.from(config.raw(), ck.metadata())),
                        options.device(), options.retnetChunkSize());
                default -> throw new CheckpointException("model '" + id + "': architecture '" + config.architecture()
                        + "' is not supported by this build yet");
            };
            return new LoadedModel(id, model, tokenizer, config.tokenizer(), fingerprint, dtype, serve.id,
                    options.device().isGpu() ? "cuda:" + options.device().getDeviceId() : "cpu", config.description(),
                    config.chatTemplate());
        }
    }

    /**
     * The dtype of the checkpoint's weights, as its embedding has it (a bf16 checkpoint keeps some vectors in
     * float32, so the first tensor by name says little); one tensor is read, not all (a .pth tensor is read whole).
     */
    private static String dominantDtype(Checkpoint ck, String architecture) {
        String embedding = architecture.equals("rwkv7") ? io.engram.model.rwkv7.Rwkv7Schema.EMB
                : io.engram.model.retnet.RetNetSchema.EMBED;
        if (ck.names().isEmpty()) return "float32";
        String name = ck.contains(embedding) ? embedding : ck.names().iterator().next();
        return switch (ck.get(name).dtype().name()) {
            case "BF16" -> "bfloat16";
            case "F16" -> "float16";
            case "F64" -> "float64";
            default -> "float32";
        };
    }

    /** Which weights a served format rounds: "2" since the LoRA matrices (64 wide or more) are served too, not only the large ones. */
    static final String SERVED_REVISION = "2";

    /** {@code sha256:} of config.json followed by every weight file (sorted by name), each prefixed by its name. */
    static String fingerprint(Path config, List<Path> weightFiles) throws IOException {
        return fingerprint(config, weightFiles, ServeDtype.FLOAT32);
    }

    /**
     * As {@link #fingerprint(Path, List)}, followed by {@code "serve_dtype" 0 <format> 0 <revision>} when the model
     * is served in another format than float32: priming and decode then compute with the served weights, so its
     * states differ from float32's and must not share their ids (a float32 model's fingerprint is unchanged). The
     * revision changes whenever what a format rounds changes ({@link #SERVED_REVISION}), so states made under
     * another rounding are not taken for this one's.
     */
    static String fingerprint(Path config, List<Path> weightFiles, ServeDtype serve) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        List<Path> files = new ArrayList<>();
        files.add(config);
        files.addAll(weightFiles.stream().sorted().toList());
        byte[] buf = new byte[1 << 20];
        for (Path f : files) {
            md.update(f.getFileName().toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            md.update((byte) 0);
            try (InputStream in = Files.newInputStream(f)) {
                for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
            }
        }
        if (serve != ServeDtype.FLOAT32) {
            md.update("serve_dtype".getBytes(java.nio.charset.StandardCharsets.UTF_8));
            md.update((byte) 0);
            md.update(serve.id.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            md.update((byte) 0);
            md.update(SERVED_REVISION.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
        return "sha256:" + HexFormat.of().formatHex(md.digest());
    }
}
