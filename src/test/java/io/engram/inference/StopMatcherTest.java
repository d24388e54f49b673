package io.engram.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class StopMatcherTest {

    @Test
    void stopSplitAcrossPushesEmitsOnlyTheTextBefore() {
        StopMatcher m = new StopMatcher(List.of("\n\n"));
        String out = m.push("a\n");
        assertEquals("a", out); // the "\n" may start the stop, so it is held
        assertFalse(m.stopped());
        out += m.push("\nb");
        assertEquals("a", out);
        assertTrue(m.stopped());
        assertEquals("", m.push("more"));
        assertEquals("", m.flush());
    }

    @Test
    void partialMatchThatDoesNotCompleteIsReleased() {
        StopMatcher m = new StopMatcher(List.of("\n\n"));
        assertEquals("ab", m.push("ab\n"));
        assertEquals("\nc", m.push("c"));
        assertFalse(m.stopped());
        assertEquals("", m.flush());
    }

    @Test
    void longerPartialMatchesAreHeldUntilDecided() {
        StopMatcher m = new StopMatcher(List.of("</answer>"));
        StringBuilder out = new StringBuilder();
        for (String piece : new String[] {"x </", "ans", "wer", "!", " y </an", "swer> z"}) {
            out.append(m.push(piece));
        }
        assertEquals("x </answer! y ", out.toString());
        assertTrue(m.stopped());
    }

    @Test
    void earliestOccurrenceWins() {
        StopMatcher m = new StopMatcher(List.of("END", "\n\n", "STOP"));
        assertEquals("one", m.push("one\n\ntwoEND"));
        assertTrue(m.stopped());

        // "EN" could start "END" and is held; "\n\n" completes before "END" could
        m = new StopMatcher(List.of("END", "\n\n"));
        assertEquals("one", m.push("oneEN"));
        assertEquals("EN", m.push("\n"));
        assertEquals("", m.push("\nD"));
        assertTrue(m.stopped());

        // overlapping: "xab" ends before "aby", so it wins and the cut is at its start
        m = new StopMatcher(List.of("aby", "xab"));
        assertEquals("1", m.push("1xaby"));
    }

    @Test
    void stopInsideOnePush() {
        StopMatcher m = new StopMatcher(List.of("###"));
        assertEquals("Hello", m.push("Hello### world"));
        assertTrue(m.stopped());
        m = new StopMatcher(List.of("###"));
        assertEquals("", m.push("###"));
        assertTrue(m.stopped());
    }

    @Test
    void emptyStopListPassesEverythingThrough() {
        StopMatcher m = new StopMatcher(List.of());
        assertEquals("a\n", m.push("a\n"));
        assertEquals("\nb", m.push("\nb"));
        assertEquals("", m.flush());
        assertFalse(m.stopped());
    }

    @Test
    void flushReleasesHeldBackText() {
        StopMatcher m = new StopMatcher(List.of("<|end|>"));
        assertEquals("done ", m.push("done <|en"));
        assertEquals("<|en", m.flush());
        assertFalse(m.stopped());
        assertEquals("", m.flush());
    }

    @Test
    void textWithoutStopCharactersIsNotHeld() {
        StopMatcher m = new StopMatcher(List.of("\n\n", "User:"));
        assertEquals("plain text", m.push("plain text"));
        assertEquals(" ", m.push(" U"));        // "U" could start "User:"
        assertEquals("Unit", m.push("nit"));
    }

    @Test
    void emptyOrNullStopStringsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new StopMatcher(List.of("a", "")));
        assertThrows(IllegalArgumentException.class, () -> new StopMatcher(Arrays.asList("a", null)));
    }

    /** Reference: read the whole text left to right, stop where the first stop string completes. */
    private static String[] reference(String text, List<String> stops) {
        for (int end = 1; end <= text.length(); end++) {
            int start = -1;
            for (String s : stops) {
                if (text.startsWith(s, end - s.length()) && end - s.length() >= 0) {
                    int st = end - s.length();
                    if (start < 0 || st < start) {
                        start = st;
                    }
                }
            }
            if (start >= 0) {
                return new String[] {text.substring(0, start), "stopped"};
            }
        }
        return new String[] {text, "running"};
    }

    @Test
    void anySplitOfTheTextGivesTheSameResultAsTheReference() {
        Random r = new Random(2024);
        List<List<String>> stopSets = List.of(
                List.of("\n\n"), List.of("aab", "ab\na", "b"), List.of("abab", "ba"), List.of("aaa", "a\nb\n"));
        int maxHeldSeen = 0;
        for (int trial = 0; trial < 4000; trial++) {
            List<String> stops = stopSets.get(trial % stopSets.size());
            int longest = stops.stream().mapToInt(String::length).max().orElse(0);
            StringBuilder tb = new StringBuilder();
            int len = r.nextInt(30);
            for (int i = 0; i < len; i++) {
                tb.append("ab\n".charAt(r.nextInt(3)));
            }
            String text = tb.toString();
            String[] expected = reference(text, stops);

            StopMatcher m = new StopMatcher(stops);
            StringBuilder out = new StringBuilder();
            int pos = 0;
            while (pos < text.length()) {
                int next = Math.min(text.length(), pos + r.nextInt(6)); // includes empty pushes
                out.append(m.push(text.substring(pos, next)));
                pos = next;
                // emitted text is never taken back, and at most longest-1 characters are held
                assertTrue(expected[0].startsWith(out.toString()), text + " -> " + out);
                if (!m.stopped()) {
                    int held = pos - out.length();
                    assertTrue(held <= longest - 1, "held " + held + " of " + text);
                    maxHeldSeen = Math.max(maxHeldSeen, held);
                }
            }
            boolean stopped = m.stopped();
            out.append(m.flush());
            assertEquals(expected[0], out.toString(), "text " + text.replace("\n", "\\n") + " stops " + stops);
            assertEquals(expected[1], stopped ? "stopped" : "running");
        }
        assertTrue(maxHeldSeen > 0);
    }
}
