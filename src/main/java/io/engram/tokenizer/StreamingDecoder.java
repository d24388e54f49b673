package io.engram.tokenizer;

/**
 * Turns a stream of token ids into text without ever splitting a UTF-8 character: a token ending inside a
 * multi-byte character emits nothing until the character completes.
 *
 * <p>Instances are stateful and not thread-safe.
 */
public interface StreamingDecoder {

    /**
     * Adds one token.
     *
     * @param tokenId the token id; ids that stand for no text are accepted and emit nothing
     * @return the text that became complete with this token, possibly empty, never null
     */
    String push(int tokenId);

    /**
     * Ends the stream: emits whatever is still held back, an incomplete character becoming U+FFFD. The
     * decoder is then empty and may be reused for a new stream.
     *
     * @return the remaining text, possibly empty, never null
     */
    String flush();
}
