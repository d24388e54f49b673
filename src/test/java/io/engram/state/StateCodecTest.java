package io.engram.state;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.engram.model.LanguageModel;
import io.engram.model.LoadedModel;
import io.engram.model.ModelState;
import io.engram.model.StateTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The binary state format: bit-exact round trips, and every kind of bad blob rejected before it reaches a model. */
class StateCodecTest {

    static LoadedModel tiny;
    static LoadedModel other;
    static ModelState primed;
    static float[] logits;

    @BeforeAll
    static void load() throws Exception {
        tiny = TestModels.oracle();
        other = TestModels.randomTwin();
        primed = tiny.model().zeroState();
        logits = tiny.model().forward(primed, new int[] {0, 72, 101, 108, 108, 111, 33}, true);
    }

    @AfterAll
    static void close() {
        other.close();
    }

    static byte[] blob() {
        return StateCodec.encode(tiny.fingerprint(), primed, logits);
    }

    static StateCodec.Decoded decode(byte[] b) {
        return StateCodec.decode(b, tiny.fingerprint(), tiny.model());
    }

    @Test
    void roundTripIsBitExactIncludingSignedZerosAndSubnormals() {
        ModelState s = primed.copy();
        float[] first = s.tensors().get(0).data();
        first[0] = -0.0f;
        first[1] = Float.MIN_VALUE;
        first[2] = -Float.MAX_VALUE;
        first[3] = Float.intBitsToFloat(0x00400001); // a subnormal with a low bit set
        byte[] b = StateCodec.encode(tiny.fingerprint(), s, logits);
        StateCodec.Decoded d = decode(b);
        List<StateTensor> want = s.tensors(), got = d.state().tensors();
        assertEquals(want.size(), got.size());
        for (int i = 0; i < want.size(); i++) {
            assertEquals(want.get(i).name(), got.get(i).name());
            assertArrayEquals(want.get(i).shape(), got.get(i).shape());
            for (int j = 0; j < want.get(i).data().length; j++) {
                assertEquals(Float.floatToRawIntBits(want.get(i).data()[j]), Float.floatToRawIntBits(got.get(i).data()[j]),
                        want.get(i).name() + "[" + j + "]");
            }
        }
        assertEquals(s.position(), d.state().position());
        assertEquals(7, d.state().position());
        for (int j = 0; j < logits.length; j++) {
            assertEquals(Float.floatToRawIntBits(logits[j]), Float.floatToRawIntBits(d.lastLogits()[j]));
        }
        assertEquals("rwkv7", d.blob().architecture());
        assertEquals(tiny.fingerprint(), d.blob().fingerprint());
        // deterministic: encoding the decoded state gives the very same bytes (so a blob's sha256 names its content)
        assertArrayEquals(b, StateCodec.encode(tiny.fingerprint(), d.state(), d.lastLogits()));
    }

    @Test
    void continuingFromADecodedStateGivesTheSameLogitsAsTheOriginal() {
        StateCodec.Decoded d = decode(blob());
        float[] x = tiny.model().forward(primed.copy(), new int[] {10, 20}, true);
        float[] y = tiny.model().forward(d.state(), new int[] {10, 20}, true);
        assertArrayEquals(x, y);
    }

    @Test
    void stateWithoutLogitsRoundTrips() {
        byte[] b = StateCodec.encode(tiny.fingerprint(), primed, null);
        StateCodec.Decoded d = decode(b);
        assertNull(d.lastLogits());
        assertEquals(blob().length - 1 - 4 - 4 * logits.length, b.length);
    }

    @Test
    void layoutMatchesTheDocumentedFormat() {
        byte[] b = blob();
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        byte[] magic = new byte[8];
        bb.get(magic);
        assertArrayEquals(new byte[] {(byte) 0x89, 'E', 'N', 'G', 'R', 'A', 'M', '\n'}, magic);
        assertEquals(1, bb.getShort());
        assertEquals(1, bb.getShort()); // flags: last logits present
        assertEquals(tiny.fingerprint(), str(bb));
        assertEquals("rwkv7", str(bb));
        assertEquals(7L, bb.getLong());
        assertEquals(6, bb.getInt()); // 2 layers x (att_x_prev, att_kv, ffn_x_prev)
        assertEquals("0.att_x_prev", str(bb));
        assertEquals(1, bb.get()); // float32
        assertEquals(1, bb.get()); // rank
        assertEquals(64, bb.getInt());
        assertEquals(Float.floatToRawIntBits(primed.tensors().get(0).data()[0]), bb.getInt());
        CRC32C crc = new CRC32C();
        crc.update(b, 0, b.length - 4);
        assertEquals((int) crc.getValue(), ByteBuffer.wrap(b, b.length - 4, 4).order(ByteOrder.LITTLE_ENDIAN).getInt());
        // header 12 + 2+71 fingerprint + 2+5 arch + 8 position + 4 count, 6 tensor headers, data, logits, crc
        long data = primed.byteSize() + 4L * logits.length;
        assertTrue(b.length > data && b.length < data + 400, "overhead " + (b.length - data));
    }

    private static String str(ByteBuffer bb) {
        byte[] s = new byte[bb.getShort()];
        bb.get(s);
        return new String(s, StandardCharsets.UTF_8);
    }

    // ------------------------------------------------------------------------------------------ rejections

    @Test
    void rejectsAnotherModelsBlob() {
        byte[] b = StateCodec.encode(other.fingerprint(), other.model().zeroState(), null);
        StateBlobException e = assertThrows(StateBlobException.class, () -> decode(b));
        assertTrue(e.incompatible());
        assertTrue(e.getMessage().contains(other.fingerprint()), e.getMessage());
        // with its own model it decodes
        StateCodec.decode(b, other.fingerprint(), other.model());
    }

    @Test
    void rejectsWrongArchitectureNamesAndShapesEvenWithTheRightFingerprint() {
        ModelState s = primed.copy();
        assertIncompatible(forge(s, "retnet", s.tensors()), "retnet");
        List<StateTensor> renamed = new java.util.ArrayList<>(s.tensors());
        StateTensor t = renamed.get(1);
        renamed.set(1, new StateTensor("0.att_kv_other", t.shape(), t.data()));
        assertIncompatible(forge(s, "rwkv7", renamed), "0.att_kv_other");
        List<StateTensor> reshaped = new java.util.ArrayList<>(s.tensors());
        reshaped.set(1, new StateTensor("0.att_kv", new int[] {16, 4, 16}, t.data()));
        assertIncompatible(forge(s, "rwkv7", reshaped), "0.att_kv");
        assertIncompatible(forge(s, "rwkv7", s.tensors().subList(0, 3)), "tensors");
        // logits of the wrong vocabulary
        byte[] b = StateCodec.encode(tiny.fingerprint(), s, new float[10]);
        assertIncompatible(b, "vocabulary");
    }

    private static void assertIncompatible(byte[] b, String mention) {
        StateBlobException e = assertThrows(StateBlobException.class, () -> decode(b));
        assertTrue(e.incompatible(), e.getMessage());
        assertTrue(e.getMessage().contains(mention), e.getMessage());
    }

    /** A blob of {@code tensors} under the tiny model's fingerprint, claiming {@code arch}. */
    private static byte[] forge(ModelState base, String arch, List<StateTensor> tensors) {
        ModelState fake = new ModelState() {
            public String architecture() {
                return arch;
            }

            public List<StateTensor> tensors() {
                return tensors;
            }

            public long position() {
                return base.position();
            }

            public ModelState copy() {
                return this;
            }
        };
        return StateCodec.encode(tiny.fingerprint(), fake, null);
    }

    @Test
    void rejectsFutureVersionsBadMagicAndBadChecksums() {
        byte[] b = blob();
        byte[] v2 = b.clone();
        v2[8] = 2;
        StateBlobException e = assertThrows(StateBlobException.class, () -> decode(v2));
        assertTrue(e.getMessage().contains("version 2") && e.getMessage().contains("newer"), e.getMessage());
        assertFalse(e.incompatible());

        byte[] magic = b.clone();
        magic[1] = 'X';
        assertTrue(assertThrows(StateBlobException.class, () -> decode(magic)).getMessage().contains("magic"));

        byte[] flipped = b.clone();
        flipped[b.length / 2] ^= 0x10;
        assertTrue(assertThrows(StateBlobException.class, () -> decode(flipped)).getMessage().contains("checksum"));

        byte[] cut = Arrays.copyOf(b, b.length - 100);
        assertThrows(StateBlobException.class, () -> decode(cut));
        byte[] longer = Arrays.copyOf(b, b.length + 4);
        assertThrows(StateBlobException.class, () -> decode(longer));
        assertThrows(StateBlobException.class, () -> decode(new byte[0]));
        assertThrows(StateBlobException.class, () -> decode("{\"not\": \"a blob\"}".getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void rejectsNonFiniteValuesEvenUnderAValidChecksum() {
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            ModelState s = primed.copy();
            s.tensors().get(1).data()[5] = bad;
            byte[] b = StateCodec.encode(tiny.fingerprint(), s, logits);
            StateBlobException e = assertThrows(StateBlobException.class, () -> decode(b));
            assertTrue(e.getMessage().contains("non-finite"), e.getMessage());
            float[] l = logits.clone();
            l[3] = bad;
            byte[] b2 = StateCodec.encode(tiny.fingerprint(), primed, l);
            assertThrows(StateBlobException.class, () -> decode(b2));
        }
    }

    @Test
    void lyingHeadersWithAValidChecksumCannotCauseHugeAllocations() {
        byte[] b = blob();
        int countAt = 12 + 2 + tiny.fingerprint().length() + 2 + 5 + 8;
        // tensor count 2^31
        assertRejectedAfterResealing(b, countAt, 0x7fffffff);
        // first tensor's only dimension: 2^31-1 elements (8 GiB)
        int dimAt = countAt + 4 + 2 + "0.att_x_prev".length() + 2;
        assertRejectedAfterResealing(b, dimAt, 0x7fffffff);
        // rank 200
        byte[] rank = b.clone();
        rank[dimAt - 1] = (byte) 200;
        reseal(rank);
        assertThrows(StateBlobException.class, () -> decode(rank));
        // fingerprint length 65535
        byte[] fp = b.clone();
        fp[12] = (byte) 0xff;
        fp[13] = (byte) 0xff;
        reseal(fp);
        assertThrows(StateBlobException.class, () -> decode(fp));
        // negative position
        byte[] pos = b.clone();
        ByteBuffer.wrap(pos).order(ByteOrder.LITTLE_ENDIAN).putLong(countAt - 8, -1L);
        reseal(pos);
        assertTrue(assertThrows(StateBlobException.class, () -> decode(pos)).getMessage().contains("position"));
        // unknown flag bits, unknown dtype
        byte[] flags = b.clone();
        flags[10] |= 0x4;
        reseal(flags);
        assertTrue(assertThrows(StateBlobException.class, () -> decode(flags)).getMessage().contains("flags"));
        byte[] dtype = b.clone();
        dtype[dimAt - 2] = 7;
        reseal(dtype);
        assertTrue(assertThrows(StateBlobException.class, () -> decode(dtype)).getMessage().contains("dtype"));
    }

    /** Where the first tensor's data starts. */
    private static int headerEnd() {
        return 12 + 2 + tiny.fingerprint().length() + 2 + 5 + 8 + 4 + 2 + "0.att_x_prev".length() + 2 + 4;
    }

    private static void assertRejectedAfterResealing(byte[] b, int at, int value) {
        byte[] x = b.clone();
        ByteBuffer.wrap(x).order(ByteOrder.LITTLE_ENDIAN).putInt(at, value);
        reseal(x);
        long before = usedHeap();
        assertThrows(StateBlobException.class, () -> decode(x));
        assertTrue(usedHeap() - before < 64L << 20, "decoding allocated a lot");
    }

    private static long usedHeap() {
        Runtime r = Runtime.getRuntime();
        return r.totalMemory() - r.freeMemory();
    }

    /** Recomputes the CRC, so that the parser (not the checksum) must catch the lie. */
    static void reseal(byte[] b) {
        CRC32C crc = new CRC32C();
        crc.update(b, 0, b.length - 4);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(b.length - 4, (int) crc.getValue());
    }

    /**
     * Seeded fuzzing: random truncations, random bit flips (1 to 8 bits), random byte overwrites and random
     * resealed corruptions. Every one must be rejected with a {@link StateBlobException} or, for a resealed blob
     * whose change hit only tensor data, decode to finite values; no other exception, no NaN.
     */
    @Test
    void fuzzedBlobsAreRejectedCleanly() {
        byte[] b = blob();
        SplittableRandom rnd = new SplittableRandom(4242);
        int rejected = 0, accepted = 0;
        for (int i = 0; i < 3000; i++) {
            byte[] x;
            int mode = i % 4;
            switch (mode) {
                case 0 -> x = Arrays.copyOf(b, rnd.nextInt(b.length));
                case 1 -> {
                    x = b.clone();
                    int flips = 1 + rnd.nextInt(8);
                    for (int f = 0; f < flips; f++) x[rnd.nextInt(x.length)] ^= (byte) (1 << rnd.nextInt(8));
                }
                case 2 -> {
                    x = b.clone();
                    int at = rnd.nextInt(x.length);
                    int len = 1 + rnd.nextInt(Math.min(64, x.length - at));
                    for (int k = 0; k < len; k++) x[at + k] = (byte) rnd.nextInt(256);
                }
                default -> {
                    // resealed: the checksum passes, so the parser's own bounds checks are what stand
                    // (only header bytes: a resealed change of tensor data is just another state, which the
                    // codec cannot judge beyond finiteness)
                    x = b.clone();
                    int at = rnd.nextInt(headerEnd());
                    x[at] ^= (byte) (1 << rnd.nextInt(8));
                    if (rnd.nextBoolean()) x = Arrays.copyOf(x, 4 + rnd.nextInt(x.length));
                    reseal(x);
                }
            }
            if (Arrays.equals(x, b)) continue;
            try {
                StateCodec.Decoded d = decode(x);
                accepted++;
                assertTrue(mode == 3, "a corrupted blob without a resealed checksum was accepted (mode " + mode + ")");
                for (StateTensor t : d.state().tensors()) for (float v : t.data()) assertTrue(Float.isFinite(v));
                float[] next = tiny.model().forward(d.state(), new int[] {1}, true);
                for (float v : next) assertTrue(Float.isFinite(v), "NaN logits from an accepted blob");
            } catch (StateBlobException e) {
                rejected++;
                assertTrue(e.getMessage() != null && !e.getMessage().isBlank());
            } catch (RuntimeException | Error e) {
                fail("fuzz case " + i + " (mode " + mode + ", " + x.length + " bytes) threw " + e, e);
            }
        }
        assertTrue(rejected > 2500, "rejected " + rejected + ", accepted " + accepted);
    }

    @Test
    void encodesTheZeroStateOfEveryModelAndTellsThemApart() {
        LanguageModel m = tiny.model();
        byte[] z = StateCodec.encode(tiny.fingerprint(), m.zeroState(), null);
        assertEquals(0, decode(z).state().position());
        assertFalse(Arrays.equals(z, StateCodec.encode(other.fingerprint(), m.zeroState(), null)));
    }
}
