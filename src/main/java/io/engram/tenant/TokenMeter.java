package io.engram.tenant;

/**
 * A tenant key's budget of tokens per minute (primed or generated). Services take tokens before model work and
 * give back what a generation reserved but did not use.
 */
public interface TokenMeter {

    /** No limit (authentication off, or a limit of 0). */
    TokenMeter UNLIMITED = new TokenMeter() {
        @Override
        public void take(long tokens) {}

        @Override
        public void giveBack(long tokens) {}
    };

    /**
     * Takes {@code tokens} now or not at all.
     *
     * @throws io.engram.error.EngramException {@code rate-limited} (429 with Retry-After) when the budget has not
     *         refilled enough yet, or {@code limit-exceeded} (400) when one request needs more than a whole minute's
     *         budget and so could never pass
     */
    void take(long tokens);

    /** Returns tokens that were taken but not used (never above the bucket's capacity). */
    void giveBack(long tokens);
}
