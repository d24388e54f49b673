package io.engram.tokenizer;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The RWKV World tokenizer ({@code rwkv_vocab_v20230424.txt}): greedy longest byte-prefix matching over a
 * trie of 65,529 byte-string tokens, with no merges and no pre-tokenisation.
 *
 * <ul>
 *   <li>Id 0 is the special end-of-text / document-separator token. It is not in the vocabulary file,
 *       decodes to nothing and is never produced by {@link #encode}.</li>
 *   <li>Every single byte b is a token (id b + 1), so any byte string, valid UTF-8 or not, can be encoded
 *       and decodes back to exactly the same bytes.</li>
 *   <li>Ids above {@link #maxTokenId()} (the model vocabulary is 65536, so 65530..65535 are unused) and
 *       negative ids decode to nothing.</li>
 * </ul>
 *
 * <p>Immutable and thread-safe.
 */
public final class RwkvWorldTokenizer implements Tokenizer {

    /** The vocabulary file name inside a model directory. */
    public static final String VOCAB_FILE = "rwkv_vocab_v20230424.txt";

    private final byte[] data;
    private final int[] offsets;
    private final int maxId;
    private final ByteTrie trie;

    private RwkvWorldTokenizer(RwkvVocabParser.Vocab vocab, ByteTrie trie) {
        this.data = vocab.data;
        this.offsets = vocab.offsets;
        this.maxId = vocab.maxId;
        this.trie = trie;
    }

    /**
     * Loads a vocabulary file.
     *
     * @param vocabFile the {@code rwkv_vocab_v20230424.txt} file
     * @return the tokenizer
     * @throws IOException if the file cannot be read or a line does not parse (the message names the line),
     *     if two ids have the same bytes, or if some single byte has no token
     */
    public static RwkvWorldTokenizer load(Path vocabFile) throws IOException {
        RwkvVocabParser.Vocab vocab = RwkvVocabParser.parse(vocabFile);
        ByteTrie trie;
        try {
            trie = ByteTrie.build(vocab.data, vocab.offsets, vocab.maxId);
        } catch (IllegalArgumentException e) {
            throw new IOException(vocabFile + ": " + e.getMessage(), e);
        }
        byte[] one = new byte[1];
        for (int b = 0; b < 256; b++) {
            one[0] = (byte) b;
            if (trie.lookup(one) == 0) {
                throw new IOException(vocabFile + ": no token for the single byte 0x" + Integer.toHexString(b)
                        + "; every byte needs one so that any input can be encoded");
            }
        }
        return new RwkvWorldTokenizer(vocab, trie);
    }

    /** {@inheritDoc} */
    @Override
    public String kind() {
        return "rwkv-world";
    }

    /**
     * The highest id in the vocabulary file (65529 for {@code rwkv_vocab_v20230424.txt}).
     *
     * @return the highest token id
     */
    public int maxTokenId() {
        return maxId;
    }

    /** {@inheritDoc} */
    @Override
    public int[] encode(String text) {
        return trie.encode(Utf8.encode(text));
    }

    /** {@inheritDoc} */
    @Override
    public int[] encodeBytes(byte[] utf8) {
        return trie.encode(utf8);
    }

    /** {@inheritDoc} */
    @Override
    public byte[] decodeBytes(int[] ids) {
        int total = 0;
        for (int id : ids) {
            total += tokenLength(id);
        }
        byte[] out = new byte[total];
        int at = 0;
        for (int id : ids) {
            int len = tokenLength(id);
            if (len > 0) {
                System.arraycopy(data, offsets[id], out, at, len);
                at += len;
            }
        }
        return out;
    }

    /** {@inheritDoc} */
    @Override
    public StreamingDecoder newStreamingDecoder() {
        return new ByteLevelStreamingDecoder((id, utf8) -> {
            int len = tokenLength(id);
            return len == 0 ? "" : utf8.push(data, offsets[id], len);
        });
    }

    /** The byte length of a token; 0 for id 0, unused ids and ids out of range. */
    private int tokenLength(int id) {
        return id > 0 && id <= maxId ? offsets[id + 1] - offsets[id] : 0;
    }
}
