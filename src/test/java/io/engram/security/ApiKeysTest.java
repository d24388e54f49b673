package io.engram.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ApiKeysTest {

    static final String K1 = "k-0123456789abcdef", K2 = "k-fedcba9876543210", K3 = "k-aaaaaaaaaaaaaaaa";

    @Test
    void parsesPairsFromThePropertyAndAFileAndMatchesOnlyExactKeys() throws Exception {
        Path file = Files.createTempFile("keys", ".txt");
        Files.writeString(file, "# rotated keys\n\n bob : " + K3 + " \r\n");
        ApiKeys keys = ApiKeys.load(" alice:" + K1 + " , alice:" + K2 + ",", file);
        assertTrue(keys.enabled());
        assertEquals(3, keys.entries().size());
        assertEquals("alice", keys.match(K1).tenant());
        assertEquals("alice", keys.match(K2).tenant());
        assertEquals("bob", keys.match(K3).tenant());
        for (String wrong : new String[] {null, "", K1 + " ", K1.substring(1), K1.toUpperCase(), "alice:" + K1}) {
            assertNull(keys.match(wrong), String.valueOf(wrong));
        }
        // keys can hold ':' (only the first one separates the tenant)
        assertEquals("carol", ApiKeys.parse("carol:a:b:c:d:e:f:g:h:i:j").match("a:b:c:d:e:f:g:h:i:j").tenant());
        // labels identify a key without revealing it
        for (ApiKeys.Entry e : keys.entries()) assertFalse(e.label().contains(K1.substring(2, 10)));
    }

    @Test
    void emptyMeansAuthenticationOff() {
        assertFalse(ApiKeys.load("", null).enabled());
        assertFalse(ApiKeys.load(" , ,\n# nothing\n", null).enabled());
    }

    @Test
    void badEntriesStopStartUpWithoutShowingTheKey() {
        for (String bad : new String[] {"alice" + K1, ":" + K1, "al ice:" + K1, "a/b:" + K1, "x".repeat(65) + ":" + K1,
                "alice:qz7", "alice:" + K1 + ",bob:" + K1}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ApiKeys.parse(bad), bad);
            assertFalse(e.getMessage().contains(K1.substring(2)), e.getMessage());
            assertFalse(e.getMessage().contains("qz7"), e.getMessage());
        }
    }

    @Test
    void bearerHeadersAreParsedStrictly() {
        assertEquals(K1, SecurityFilter.bearer("Bearer " + K1));
        assertEquals(K1, SecurityFilter.bearer("bearer   " + K1 + "  "));
        assertNull(SecurityFilter.bearer(null));
        assertNull(SecurityFilter.bearer("Bearer "));
        assertNull(SecurityFilter.bearer("Basic " + K1));
        assertNull(SecurityFilter.bearer(K1));
    }
}
