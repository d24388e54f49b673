package io.engram.tokenizer;

import java.nio.charset.StandardCharsets;

/** UTF-8 helpers shared by the tokenizers. */
final class Utf8 {

    static final char REPLACEMENT = '\uFFFD';

    private Utf8() {}

    /**
     * Encodes text as UTF-8, writing U+FFFD for every unpaired surrogate (Java's encoder would write '?').
     */
    static byte[] encode(String text) {
        return replaceLoneSurrogates(text).getBytes(StandardCharsets.UTF_8);
    }

    /** Returns {@code text} itself when it has no unpaired surrogate, else a copy with each one replaced. */
    static String replaceLoneSurrogates(String text) {
        int n = text.length();
        int i = 0;
        while (i < n && !Character.isSurrogate(text.charAt(i))) {
            i++;
        }
        if (i == n) {
            return text;
        }
        StringBuilder sb = null;
        while (i < n) {
            char c = text.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(text.charAt(i + 1))) {
                if (sb != null) {
                    sb.append(c).append(text.charAt(i + 1));
                }
                i += 2;
                continue;
            }
            if (Character.isSurrogate(c)) {
                if (sb == null) {
                    sb = new StringBuilder(n).append(text, 0, i);
                }
                sb.append(REPLACEMENT);
            } else if (sb != null) {
                sb.append(c);
            }
            i++;
        }
        return sb == null ? text : sb.toString();
    }
}
