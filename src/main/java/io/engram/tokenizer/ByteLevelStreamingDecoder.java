package io.engram.tokenizer;

/**
 * Streaming decoder for tokenizers whose tokens stand for byte strings: looks each id's bytes up and feeds
 * them to a {@link Utf8StreamDecoder}.
 */
final class ByteLevelStreamingDecoder implements StreamingDecoder {

    /** Where a byte-level tokenizer keeps its tokens' bytes. */
    interface TokenBytes {
        /** Feeds the bytes of {@code id} (nothing when it has none) to {@code decoder}, returning its text. */
        String pushTo(int id, Utf8StreamDecoder decoder);
    }

    private final TokenBytes tokens;
    private final Utf8StreamDecoder utf8 = new Utf8StreamDecoder();

    ByteLevelStreamingDecoder(TokenBytes tokens) {
        this.tokens = tokens;
    }

    @Override
    public String push(int tokenId) {
        return tokens.pushTo(tokenId, utf8);
    }

    @Override
    public String flush() {
        return utf8.flush();
    }
}
