package io.engram.inference;

import java.util.List;
import java.util.Objects;

/**
 * Incremental stop-string matcher over streamed, decoded text. One instance per generation
 * request; not thread-safe.
 *
 * <p>Stop strings are matched across push boundaries and are not part of the output. Text that
 * could still be the start of a stop string is held back until it either completes a stop string
 * (then it is dropped) or cannot any more (then it is released). At most
 * {@code longest stop string - 1} characters are ever held back.
 *
 * <p>When several stop strings occur, the one that is complete first while reading the text left
 * to right wins (for occurrences that end at the same place, the one that starts first); the output
 * is cut where it starts. This is the same wherever the text is split into pushes, so the result
 * does not depend on how tokens are detokenised.
 */
public final class StopMatcher {

    private final String[] stops;
    private final int longest;
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    /**
     * Creates the matcher of one request.
     *
     * @param stops the stop strings; may be empty (everything passes through)
     * @throws IllegalArgumentException if a stop string is null or empty
     */
    public StopMatcher(List<String> stops) {
        Objects.requireNonNull(stops, "stops");
        this.stops = new String[stops.size()];
        int max = 0;
        for (int i = 0; i < this.stops.length; i++) {
            String s = stops.get(i);
            if (s == null || s.isEmpty()) {
                throw new IllegalArgumentException("stop strings must be non-empty");
            }
            this.stops[i] = s;
            max = Math.max(max, s.length());
        }
        this.longest = max;
    }

    /**
     * Feeds newly decoded text.
     *
     * @param text the next piece of decoded text
     * @return the text that is safe to emit now (possibly empty); empty once {@link #stopped()}
     */
    public String push(String text) {
        Objects.requireNonNull(text, "text");
        if (stopped) {
            return "";
        }
        if (stops.length == 0) {
            return text;
        }
        // Text before the held part contained no complete stop and no unfinished one, so any new
        // match ends inside the new text and starts within the held part or later.
        int scanFrom = held.length();
        held.append(text);
        int cut = firstStop(scanFrom);
        if (cut >= 0) {
            String out = held.substring(0, cut);
            held.setLength(0);
            held.trimToSize();
            stopped = true;
            return out;
        }
        int keep = partialSuffix();
        String out = held.substring(0, held.length() - keep);
        held.delete(0, held.length() - keep);
        return out;
    }

    /**
     * Tells whether generation should end.
     *
     * @return true once any stop string has been seen; text from the stop string on is dropped
     */
    public boolean stopped() {
        return stopped;
    }

    /**
     * Ends the stream without a stop: releases the held-back text.
     *
     * @return the held-back text; empty if {@link #stopped()}
     */
    public String flush() {
        String out = held.toString();
        held.setLength(0);
        return out;
    }

    /**
     * Start of the stop occurrence that ends first (ties: starts first) among those ending after
     * {@code scanFrom}, or -1.
     */
    private int firstStop(int scanFrom) {
        int bestEnd = Integer.MAX_VALUE;
        int bestStart = -1;
        for (String s : stops) {
            int from = Math.max(0, scanFrom - s.length() + 1);
            int start = held.indexOf(s, from);
            if (start >= 0) {
                int end = start + s.length();
                if (end < bestEnd || (end == bestEnd && start < bestStart)) {
                    bestEnd = end;
                    bestStart = start;
                }
            }
        }
        return bestStart;
    }

    /** Length of the longest suffix of the held text that is a proper prefix of some stop string. */
    private int partialSuffix() {
        int len = held.length();
        for (int k = Math.min(len, longest - 1); k > 0; k--) {
            for (String s : stops) {
                if (k < s.length() && regionEquals(len - k, s, k)) {
                    return k;
                }
            }
        }
        return 0;
    }

    private boolean regionEquals(int offset, String s, int k) {
        for (int i = 0; i < k; i++) {
            if (held.charAt(offset + i) != s.charAt(i)) {
                return false;
            }
        }
        return true;
    }
}
