package io.engram.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face {@code tokenizer.json} tokenizer, through DJL's {@link HuggingFaceTokenizer} (the Rust
 * {@code tokenizers} library; its linux-x86_64 native library ships inside the DJL jar, nothing is
 * downloaded).
 *
 * <ul>
 *   <li>Encoding adds no special tokens (no BOS/CLS from the post-processor) and never truncates or pads:
 *       DJL's defaults would truncate to 512 tokens, so they are switched off.</li>
 *   <li>Decoding skips special tokens, the way RWKV's special id 0 decodes to nothing. Ids that are not in
 *       the vocabulary (including negative ones) decode to nothing.</li>
 *   <li>{@link #encodeBytes} decodes the bytes leniently (malformed UTF-8 becomes U+FFFD) and encodes the
 *       text; {@link #decodeBytes} is the UTF-8 of {@link #decode}.</li>
 *   <li>Streaming decodes a window of recent ids and emits the new suffix, holding it back while it ends in
 *       U+FFFD (a byte-level token that ends inside a character); see {@link #newStreamingDecoder()}.</li>
 * </ul>
 *
 * <p><b>Staying offline.</b> Two DJL 0.36 behaviours would reach the network: on a machine with an NVIDIA GPU,
 * unless DJL is in offline mode ({@code DJL_OFFLINE} / {@code -Dai.djl.offline=true}), it picks a CUDA build of
 * the native library, which the jar does not contain, and downloads it; and every tokenizer factory call probes
 * the EC2 metadata address (169.254.169.254) for telemetry unless offline mode or {@code OPT_OUT_TRACKING} is
 * set. So {@link #load} sets the system properties {@code RUST_FLAVOR=cpu} (use the bundled CPU library) and
 * {@code OPT_OUT_TRACKING=true}, each only when neither the environment variable nor the property of that
 * name is already set. The CPU library is extracted once to {@code ~/.djl.ai/tokenizers/} (or
 * {@code DJL_CACHE_DIR}).
 *
 * <p>Thread-safe; {@link #close()} frees the native tokenizer (otherwise a finalizer does).
 */
public final class HfTokenizer implements Tokenizer, AutoCloseable {

    /** The file name inside a model directory. */
    public static final String TOKENIZER_FILE = "tokenizer.json";

    private final HuggingFaceTokenizer hf;

    private HfTokenizer(HuggingFaceTokenizer hf) {
        this.hf = hf;
    }

    /**
     * Loads a {@code tokenizer.json}.
     *
     * @param tokenizerJson the file
     * @return the tokenizer
     * @throws IOException if the file cannot be read, if the tokenizers library rejects it, or if DJL's native
     *     tokenizers library cannot be loaded on this platform
     */
    public static HfTokenizer load(Path tokenizerJson) throws IOException {
        if (!Files.isRegularFile(tokenizerJson)) {
            throw new IOException("tokenizer file not found: " + tokenizerJson);
        }
        pinDjlOffline();
        Map<String, String> options = Map.of(
                "addSpecialTokens", "false",
                "withOverflowingTokens", "false",
                "truncation", "false",
                "padding", "false");
        try {
            return new HfTokenizer(HuggingFaceTokenizer.newInstance(tokenizerJson, options));
        } catch (IOException e) {
            throw e;
        } catch (RuntimeException | UnsatisfiedLinkError e) {
            // EngineException when the native library does not load; a RuntimeException from the Rust side
            // when the JSON is not a tokenizer it understands.
            throw new IOException("cannot load Hugging Face tokenizer " + tokenizerJson + ": " + describe(e), e);
        }
    }

    /** Pins DJL to the bundled CPU library and off telemetry, unless the operator chose otherwise. */
    static void pinDjlOffline() {
        setIfUnset("RUST_FLAVOR", "cpu");
        setIfUnset("OPT_OUT_TRACKING", "true");
    }

    private static void setIfUnset(String name, String value) {
        // DJL reads these with Utils.getEnvOrSystemProperty: the environment first, then the property.
        if (System.getenv(name) == null && System.getProperty(name) == null) {
            System.setProperty(name, value);
        }
    }

    private static String describe(Throwable e) {
        StringBuilder sb = new StringBuilder(String.valueOf(e.getMessage()));
        for (Throwable c = e.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
            sb.append(" (caused by ").append(c).append(')');
        }
        return sb.toString();
    }

    /** {@inheritDoc} */
    @Override
    public String kind() {
        return "hf";
    }

    /** {@inheritDoc} */
    @Override
    public int[] encode(String text) {
        long[] ids = hf.encode(Utf8.replaceLoneSurrogates(text), false, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    /** {@inheritDoc} */
    @Override
    public int[] encodeBytes(byte[] utf8) {
        return encode(new String(utf8, StandardCharsets.UTF_8));
    }

    /** {@inheritDoc} */
    @Override
    public String decode(int[] ids) {
        return decode(ids, 0, ids.length);
    }

    /** {@inheritDoc} */
    @Override
    public byte[] decodeBytes(int[] ids) {
        return decode(ids).getBytes(StandardCharsets.UTF_8);
    }

    private String decode(int[] ids, int from, int to) {
        long[] longs = new long[to - from];
        int n = 0;
        for (int i = from; i < to; i++) {
            if (ids[i] >= 0) {
                longs[n++] = ids[i];
            }
        }
        if (n == 0) {
            return "";
        }
        if (n < longs.length) {
            longs = Arrays.copyOf(longs, n);
        }
        return hf.decode(longs, true);
    }

    /**
     * {@inheritDoc}
     *
     * <p>The decoder keeps the ids it has seen. After each push it decodes the ids from {@code prefixStart}
     * on, compares with the decoding of the ids up to the last emitted point, and emits the difference unless
     * it is empty or ends in U+FFFD (an incomplete byte-level character); then the window moves forward.
     * Decoding the window's already-emitted prefix along with the new ids keeps decoders that depend on
     * context (a SentencePiece {@code ▁} at the start, byte fallback) right. Cost per token is the size of
     * the window, not of the whole stream.
     */
    @Override
    public StreamingDecoder newStreamingDecoder() {
        return new WindowedDecoder();
    }

    /** Frees the native tokenizer. */
    @Override
    public void close() {
        hf.close();
    }

    private final class WindowedDecoder implements StreamingDecoder {
        private final List<Integer> ids = new ArrayList<>();
        /** Start of the decoding window: ids before it are emitted and no longer consulted. */
        private int prefixStart;
        /** Ids before this point have been emitted. */
        private int readStart;

        @Override
        public String push(int tokenId) {
            ids.add(tokenId);
            return advance(false);
        }

        @Override
        public String flush() {
            String s = advance(true);
            ids.clear();
            prefixStart = 0;
            readStart = 0;
            return s;
        }

        private String advance(boolean force) {
            int[] window = new int[ids.size() - prefixStart];
            for (int i = 0; i < window.length; i++) {
                window[i] = ids.get(prefixStart + i);
            }
            String prefix = decode(window, 0, readStart - prefixStart);
            String full = decode(window, 0, window.length);
            if (full.length() <= prefix.length() || (!force && full.charAt(full.length() - 1) == Utf8.REPLACEMENT)) {
                return "";
            }
            String delta = full.startsWith(prefix) ? full.substring(prefix.length()) : full.substring(
                    commonPrefixLength(prefix, full));
            prefixStart = readStart;
            readStart = ids.size();
            return delta;
        }
    }

    private static int commonPrefixLength(String a, String b) {
        int n = Math.min(a.length(), b.length());
        int i = 0;
        while (i < n && a.charAt(i) == b.charAt(i)) {
            i++;
        }
        return i;
    }
}
