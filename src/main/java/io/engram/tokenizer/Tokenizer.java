package io.engram.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * Turns text into model token ids and back.
 *
 * <p>Implementations are immutable and safe to share between threads; the {@link StreamingDecoder}s they
 * create are not (use one per stream).
 *
 * <p><b>Lone surrogates.</b> A Java {@code String} may hold an unpaired UTF-16 surrogate, which has no UTF-8
 * form. {@link #encode(String)} never throws for it: every unpaired surrogate is encoded as U+FFFD (the
 * bytes {@code EF BF BD}), the same character that {@link #decode(int[])} produces for malformed bytes.
 * (Java's own {@code String.getBytes(UTF_8)} would write {@code '?'} instead.)
 */
public interface Tokenizer {

    /**
     * The tokenizer kind, as written in a model's {@code config.json}.
     *
     * @return {@code "rwkv-world"}, {@code "bytes"} or {@code "hf"}
     */
    String kind();

    /**
     * Encodes text. Never adds special tokens.
     *
     * @param text the text; unpaired surrogates are encoded as U+FFFD
     * @return the token ids
     */
    int[] encode(String text);

    /**
     * Encodes raw UTF-8 bytes. Byte-level tokenizers ({@code rwkv-world}, {@code bytes}) encode the bytes
     * exactly, even when they are not valid UTF-8; {@code hf} decodes them to a String first (malformed
     * sequences become U+FFFD).
     *
     * @param utf8 the bytes
     * @return the token ids
     */
    int[] encodeBytes(byte[] utf8);

    /**
     * Turns ids into the bytes they stand for. Ids that stand for no bytes (a special id such as RWKV's 0,
     * or an id outside the vocabulary) contribute nothing; they are not an error.
     *
     * @param ids the token ids
     * @return the concatenated bytes
     */
    byte[] decodeBytes(int[] ids);

    /**
     * Decodes ids to text. Malformed UTF-8 (for example a sequence cut in the middle of a character)
     * becomes U+FFFD, the same way as {@code new String(bytes, UTF_8)}.
     *
     * @param ids the token ids
     * @return the text
     */
    default String decode(int[] ids) {
        return new String(decodeBytes(ids), StandardCharsets.UTF_8);
    }

    /**
     * Creates a decoder for a stream of ids (for example generated tokens). For every sequence of ids,
     * the concatenation of {@code push(id)} over the ids followed by {@code flush()} equals
     * {@link #decode(int[])} of the whole sequence.
     *
     * @return a new, independent streaming decoder
     */
    StreamingDecoder newStreamingDecoder();
}
