package io.engram.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The content-addressed id rules. The pinned values make sure that no change to the code silently changes ids:
 * two servers (or two versions) with the same model files must keep computing the same id for the same document.
 */
class StateIdsTest {

    static final String FP = "sha256:" + "ab".repeat(32);

    @Test
    void primedIdsArePinned() {
        assertEquals(PINNED_PRIMED, StateIds.primed(FP, null, new int[] {1, 2, 3}));
        assertEquals(PINNED_CHAINED, StateIds.primed(FP, PINNED_PRIMED, new int[] {4}));
        assertEquals(PINNED_COMBINED, StateIds.combined(FP, new String[] {PINNED_PRIMED, PINNED_CHAINED}, new double[] {0.25, 0.75}));
        assertEquals("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", StateIds.ofBytes(new byte[0]));
    }

    // computed independently (Python hashlib + struct) from the rule in StateIds' documentation
    static final String PINNED_PRIMED = "7f9aafcb08c6c0a77aab18c07868b355a3a0230c1b4859f61fdb796bd563d8cc";
    static final String PINNED_CHAINED = "73bb9d4e6bafd95e7cbe55b130d6b582cd6578962a1f7985c80887865bfc5559";
    static final String PINNED_COMBINED = "6d9b4b7f0d6adb89827efa3eca7acf9e73ee7fc5f1d1923a51384270fa23362f";

    @Test
    void primedIdsDependOnExactlyModelParentAndTokens() {
        String base = StateIds.primed(FP, null, new int[] {1, 2, 3});
        assertEquals(base, StateIds.primed(FP, null, new int[] {1, 2, 3}));
        assertEquals(base, StateIds.primed(FP, "", new int[] {1, 2, 3}), "no parent and an empty parent are the same");
        Set<String> ids = new HashSet<>();
        ids.add(base);
        ids.add(StateIds.primed("sha256:" + "cd".repeat(32), null, new int[] {1, 2, 3}));
        ids.add(StateIds.primed(FP, base, new int[] {1, 2, 3}));
        ids.add(StateIds.primed(FP, null, new int[] {1, 2}));
        ids.add(StateIds.primed(FP, null, new int[] {1, 2, 3, 0}));
        ids.add(StateIds.primed(FP, null, new int[] {3, 2, 1}));
        ids.add(StateIds.primed(FP, null, new int[] {1 + 65536, 2, 3}));
        ids.add(StateIds.primed(FP, null, new int[0]));
        assertEquals(8, ids.size(), "every change gives a new id");
        for (String id : ids) assertTrue(StateIds.isValid(id), id);
        // reading [1,2] then [3] is a different id from reading [1,2,3] at once: the parent is part of the id
        assertNotEquals(base, StateIds.primed(FP, StateIds.primed(FP, null, new int[] {1, 2}), new int[] {3}));
    }

    @Test
    void combinedIdsDependOnIdsOrderAndNormalisedWeights() {
        String a = StateIds.primed(FP, null, new int[] {1}), b = StateIds.primed(FP, null, new int[] {2});
        String ab = StateIds.combined(FP, new String[] {a, b}, new double[] {0.25, 0.75});
        assertEquals(ab, StateIds.combined(FP, new String[] {a, b}, new double[] {0.25, 0.75}));
        assertNotEquals(ab, StateIds.combined(FP, new String[] {b, a}, new double[] {0.75, 0.25}));
        assertNotEquals(ab, StateIds.combined(FP, new String[] {a, b}, new double[] {0.5, 0.5}));
        assertNotEquals(ab, StateIds.combined("sha256:" + "cd".repeat(32), new String[] {a, b}, new double[] {0.25, 0.75}));
        // weights 1:3 and 2:6 normalise to the same combination, hence the same id
        double[] w13 = StateMixer.normalisedWeights(java.util.List.of(new StateMixer.Ref(a, 1), new StateMixer.Ref(b, 3)));
        double[] w26 = StateMixer.normalisedWeights(java.util.List.of(new StateMixer.Ref(a, 2), new StateMixer.Ref(b, 6)));
        assertEquals(StateIds.combined(FP, new String[] {a, b}, w13), StateIds.combined(FP, new String[] {a, b}, w26));
        // a combined id is never a primed id of the same inputs
        assertNotEquals(StateIds.primed(FP, null, new int[] {1}), StateIds.combined(FP, new String[] {a}, new double[] {1}));
    }

    @Test
    void importedIdsAreTheBlobsSha256AndIdsAreStrictlyValidated() {
        assertTrue(StateIds.isValid(StateIds.ofBytes(new byte[] {1, 2, 3})));
        assertFalse(StateIds.isValid("A".repeat(64)));
        assertFalse(StateIds.isValid("a".repeat(63)));
        assertFalse(StateIds.isValid("a".repeat(65)));
        assertFalse(StateIds.isValid("../" + "a".repeat(61)));
        assertFalse(StateIds.isValid(null));
    }

    @Test
    void tenantSaltedIdsArePinnedAndDifferPerTenant() {
        // a null salt (authentication off) is exactly today's id
        assertEquals(PINNED_PRIMED, StateIds.primed(null, FP, null, new int[] {1, 2, 3}));
        assertEquals(StateIds.ofBytes("engram".getBytes()), StateIds.imported(null, "engram".getBytes()));
        String alice = StateIds.primed("alice", FP, null, new int[] {1, 2, 3});
        String aliceChained = StateIds.primed("alice", FP, alice, new int[] {4});
        assertEquals(SALTED_ALICE, alice);
        assertEquals("cc88539e07f037f6441fd03585ee6d92ccbb4c7435128f6a7dea9acd20634a18",
                StateIds.primed("bob", FP, null, new int[] {1, 2, 3}));
        assertEquals("0d71619c167c671d2c4efef484fea8412c924223323b293f5a3107010024dd4b", aliceChained);
        assertEquals("273bb8964d7b7dfa57ab49f7e5df95e5aa0947fc0a6993ed62c1694ed06e7132",
                StateIds.combined("alice", FP, new String[] {alice, aliceChained}, new double[] {0.25, 0.75}));
        assertEquals("086f1236f6e775f425e39859d832fa2d6b3104378241ca1ddc6a91aec2bae688",
                StateIds.imported("alice", "engram".getBytes()));
        assertEquals("a4444fddbf3415e86dce7568835d3b6a66d10e31c2766bc6c16251f18fe44b4d",
                StateIds.imported("bob", "engram".getBytes()));
        // salted ids never meet unsalted ones or another tenant's
        Set<String> ids = new HashSet<>();
        for (String salt : new String[] {null, "alice", "bob", "default"}) {
            ids.add(StateIds.primed(salt, FP, null, new int[] {1, 2, 3}));
            ids.add(StateIds.combined(salt, FP, new String[] {PINNED_PRIMED}, new double[] {1}));
            ids.add(StateIds.imported(salt, new byte[] {1, 2, 3}));
        }
        assertEquals(12, ids.size());
    }

    // computed independently (Python hashlib + struct) from the salted rule in StateIds' documentation
    static final String SALTED_ALICE = "2a9d281388984656929f576ba56b59415921dfdb456a1a4c05148b88409709a1";
}
