package io.engram.state;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.engram.model.LoadedModel;
import io.engram.model.ModelState;
import io.engram.testsupport.TestRedis;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.data.redis.connection.RedisConnection;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;

/** The Redis store against a real Redis: layout, atomicity, TTL, and the read-through cache's coherence. */
class RedisStateStoreTest {

    static LoadedModel tiny;
    static LettuceConnectionFactory redis;
    static String prefix;
    static final Clock CLOCK = Clock.systemUTC();

    RedisStateStore a, b; // two "replicas" sharing one Redis, each with its own cache

    @BeforeAll
    static void setUp() {
        tiny = TestModels.oracle();
        redis = TestRedis.connect(TestRedis.url());
        prefix = TestRedis.prefix();
    }

    @AfterAll
    static void tearDown() {
        TestRedis.clean(redis, prefix);
        redis.destroy();
    }

    @BeforeEach
    void stores() {
        a = store(prefix);
        b = store(prefix);
    }

    static RedisStateStore store(String prefix) {
        return new RedisStateStore(redis, id -> id.equals("tiny") ? Optional.of(tiny) : Optional.empty(), prefix,
                64L << 20, 2, CLOCK);
    }

    static int seq;

    /** A primed state with a fresh id, expiring in {@code ttlMs}. */
    static StoredState primed(long ttlMs) {
        ModelState s = tiny.model().zeroState();
        int[] doc = new SplittableRandom(++seq * 31L).ints(12, 0, 256).toArray();
        float[] logits = tiny.model().forward(s, doc, true);
        Instant now = CLOCK.instant();
        String id = StateIds.primed(tiny.fingerprint(), null, doc);
        return new StoredState(new StateMeta(id, "tiny", "primed", doc.length, doc.length, null, s.byteSize(), now,
                now.plus(ttlMs, ChronoUnit.MILLIS)), s, logits);
    }

    static void assertSameState(StoredState want, StoredState got) {
        assertEquals(want.meta(), got.meta());
        for (int i = 0; i < want.state().tensors().size(); i++) {
            float[] x = want.state().tensors().get(i).data(), y = got.state().tensors().get(i).data();
            for (int j = 0; j < x.length; j++) assertEquals(Float.floatToRawIntBits(x[j]), Float.floatToRawIntBits(y[j]));
        }
        assertArrayEquals(want.lastLogits(), got.lastLogits());
        assertEquals(want.state().position(), got.state().position());
    }

    @Test
    void storesTheCodecBlobAndASmallMetadataHashWithOneExpiry() {
        StoredState s = primed(60_000);
        a.put(s);
        String id = s.meta().id();
        try (RedisConnection c = redis.getConnection()) {
            byte[] blob = c.stringCommands().get(a.blobKey(id));
            assertArrayEquals(StateCodec.encode(tiny.fingerprint(), s.state(), s.lastLogits()), blob, "raw codec bytes in Redis");
            assertEquals("hash", c.keyCommands().type(a.metaKey(id)).code());
            Map<byte[], byte[]> h = c.hashCommands().hGetAll(a.metaKey(id));
            int fieldBytes = h.entrySet().stream().mapToInt(e -> e.getKey().length + e.getValue().length).sum();
            assertTrue(fieldBytes < 600, "metadata hash holds " + fieldBytes + " bytes");
            assertEquals("tiny", new String(c.hashCommands().hGet(a.metaKey(id), "model".getBytes()), StandardCharsets.UTF_8));
            long expiresAt = s.meta().expiresAt().toEpochMilli();
            Long pttlBlob = c.keyCommands().pTtl(a.blobKey(id));
            Long pttlMeta = c.keyCommands().pTtl(a.metaKey(id));
            assertTrue(pttlBlob > 55_000 && pttlBlob <= 60_000, "blob PTTL " + pttlBlob);
            assertTrue(Math.abs(pttlBlob - pttlMeta) < 50, "blob and meta expire together: " + pttlBlob + " vs " + pttlMeta);
            assertTrue(Math.abs(CLOCK.millis() + pttlBlob - expiresAt) < 100);
        }
        // another replica reads it back bit-exactly, and metadata alone without touching the blob
        assertSameState(s, b.get(id).orElseThrow());
        assertEquals(s.meta(), b.meta(id).orElseThrow());
        assertEquals(0, b.cache().size() - 1);
        assertTrue(b.get(StateIds.ofBytes(new byte[] {1})).isEmpty());
        assertTrue(b.meta(StateIds.ofBytes(new byte[] {1})).isEmpty());
    }

    @Test
    void ttlExpiryInRedisRemovesTheStateEverywhere() throws Exception {
        StoredState s = primed(800);
        a.put(s);
        assertTrue(a.get(s.meta().id()).isPresent());
        assertTrue(b.get(s.meta().id()).isPresent()); // now cached in both
        Thread.sleep(1000);
        assertTrue(a.get(s.meta().id()).isEmpty(), "served from the cache after expiry");
        assertTrue(b.meta(s.meta().id()).isEmpty());
        try (RedisConnection c = redis.getConnection()) {
            assertFalse(c.keyCommands().exists(a.blobKey(s.meta().id())), "Redis dropped the blob");
            assertFalse(c.keyCommands().exists(a.metaKey(s.meta().id())));
        }
    }

    @Test
    void readThroughCacheServesHotStatesWithoutRefetchingTheBlob() {
        StoredState s = primed(60_000);
        a.put(s);
        long hits = b.cache().hits.get(), misses = b.cache().misses.get();
        StoredState first = b.get(s.meta().id()).orElseThrow();
        StoredState second = b.get(s.meta().id()).orElseThrow();
        assertEquals(misses + 1, b.cache().misses.get());
        assertEquals(hits + 1, b.cache().hits.get());
        assertSame(first.state(), second.state(), "the second get is the cached decoded state");
        assertSameState(s, second);
    }

    @Test
    void aDeleteAnywhereIsHonouredByEveryCacheAtOnce() {
        StoredState s = primed(60_000);
        String id = s.meta().id();
        a.put(s);
        assertTrue(a.get(id).isPresent());
        assertTrue(b.get(id).isPresent());
        assertTrue(b.delete(id)); // replica b deletes: a's cache must not serve it any more
        assertTrue(a.get(id).isEmpty(), "stale state served after DELETE returned");
        assertTrue(a.meta(id).isEmpty());
        assertFalse(b.delete(id));

        a.put(s);
        assertTrue(b.get(id).isPresent());
        try (RedisConnection c = redis.getConnection()) {
            c.keyCommands().del(a.metaKey(id), a.blobKey(id)); // deleted behind Engram's back (redis-cli, another version)
        }
        assertTrue(b.get(id).isEmpty());
        assertEquals(0, b.cache().size());
    }

    @Test
    void aStateRewrittenWithOtherBytesIsReadAgain() {
        StoredState s = primed(60_000);
        a.put(s);
        StoredState cachedInB = b.get(s.meta().id()).orElseThrow();
        // the same id written by a replica whose floats differ (another device): b must not keep serving its copy
        ModelState other = s.state().copy();
        other.tensors().get(1).data()[0] += 1e-3f;
        StoredState rewritten = new StoredState(s.meta(), other, s.lastLogits());
        a.put(rewritten);
        StoredState now = b.get(s.meta().id()).orElseThrow();
        assertNotSame(cachedInB.state(), now.state());
        assertSameState(rewritten, now);
    }

    @Test
    void halfWrittenOrCorruptEntriesAreNeverServed() {
        StoredState s = primed(60_000);
        String id = s.meta().id();
        byte[] blob = StateCodec.encode(tiny.fingerprint(), s.state(), s.lastLogits());
        try (RedisConnection c = redis.getConnection()) {
            // a blob without metadata
            c.stringCommands().set(a.blobKey(id), blob);
            assertTrue(a.get(id).isEmpty());
            assertTrue(a.meta(id).isEmpty());
            // metadata without a blob
            c.keyCommands().del(a.blobKey(id));
            a.put(s);
            c.keyCommands().del(a.blobKey(id));
            assertTrue(b.get(id).isEmpty());
            // a truncated blob whose metadata claims its (wrong) checksum: decoding fails, the entry is dropped
            a.put(s);
            byte[] cut = Arrays.copyOf(blob, blob.length / 2);
            c.stringCommands().set(a.blobKey(id), cut);
            c.hashCommands().hSet(a.metaKey(id), "crc".getBytes(), Integer.toHexString(StateCodec.storedChecksum(cut)).getBytes());
            assertTrue(b.get(id).isEmpty());
            assertFalse(c.keyCommands().exists(a.metaKey(id)), "the corrupt entry was deleted");
            // a blob that does not match its metadata's checksum
            a.put(s);
            c.hashCommands().hSet(a.metaKey(id), "crc".getBytes(), "1234".getBytes());
            assertTrue(b.get(id).isEmpty());
        }
    }

    @Test
    void anUnreachableRedisIsA503WithRetryAfterNotAHang() {
        LettuceConnectionFactory dead = TestRedis.connect("redis://127.0.0.1:" + TestRedis.freePort());
        try {
            RedisStateStore s = new RedisStateStore(dead, id -> Optional.of(tiny), prefix, 1 << 20, 3, CLOCK);
            String id = StateIds.ofBytes(new byte[] {2});
            long t0 = System.nanoTime();
            EngramException e = assertThrows(EngramException.class, () -> s.get(id));
            assertEquals(ProblemType.STORE_UNAVAILABLE, e.type());
            assertEquals(3L, e.retryAfterSeconds());
            assertThrows(EngramException.class, () -> s.put(primed(1000)));
            assertThrows(EngramException.class, () -> s.delete(id));
            assertThrows(EngramException.class, s::ping);
            assertTrue((System.nanoTime() - t0) / 1e9 < 10, "took " + (System.nanoTime() - t0) / 1e9 + " s");
        } finally {
            dead.destroy();
        }
    }

    @Test
    void keyPrefixesSeparateDeployments() {
        StoredState s = primed(60_000);
        a.put(s);
        RedisStateStore elsewhere = store(prefix + "other:");
        assertTrue(elsewhere.get(s.meta().id()).isEmpty());
    }
}
