package io.engram.state;

import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.engram.model.LoadedModel;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DataAccessException;
import org.springframework.data.redis.connection.RedisConnection;
import org.springframework.data.redis.connection.RedisConnectionFactory;
import org.springframework.data.redis.connection.ReturnType;

/**
 * States in Redis, shared by every replica, with an in-process read-through cache.
 *
 * <p>Each state is two keys with the same hash tag (so they live in one slot of a Redis Cluster):
 * <ul>
 *   <li>{@code <prefix>state:{<id>}:blob}: a string holding the state in {@link StateCodec}'s binary format
 *       (raw bytes: no Java serialisation, no JSON);</li>
 *   <li>{@code <prefix>state:{<id>}:meta}: a small hash of the metadata and the blob's CRC-32C, so reading metadata
 *       never moves a blob.</li>
 * </ul>
 * Both are written by one Lua script, which Redis runs atomically (like MULTI/EXEC, but on the shared connection),
 * with the same absolute expiry ({@code PXAT}); a reader therefore sees both keys or neither, and never part of a
 * blob. A blob is only used when its trailing checksum equals the one in the metadata and it decodes cleanly.
 *
 * <p><b>Cache coherence.</b> Every {@link #get} first reads the metadata hash (one small round trip), and serves a
 * cached state only if the hash exists and carries the same blob checksum the cached entry was decoded from. A
 * {@code DELETE} (from any replica) or an expiry in Redis removes the hash, so the next {@code get} anywhere misses;
 * a state rewritten with other bytes (say by a replica on another device, whose floats differ in the last bit)
 * changes the checksum and is re-read. Keyspace notifications were not used: they must be enabled on the server
 * ({@code notify-keyspace-events}, often locked on managed Redis) and are lost while a connection is down, which
 * would leave stale entries; the per-get check costs one ~100-byte round trip instead of moving megabytes.
 *
 * <p><b>Failures.</b> Any Redis error (unreachable, timed out, rejected while reconnecting) becomes
 * {@code 503 store-unavailable} with Retry-After; the connection reconnects by itself when Redis returns.
 */
public final class RedisStateStore implements StateStore {

    private static final Logger log = LoggerFactory.getLogger(RedisStateStore.class);

    /**
     * KEYS: blob, meta. ARGV: blob bytes, absolute expiry in epoch ms (0 = none), then field/value pairs.
     * Redis runs a script atomically: no reader sees the blob without its metadata or the reverse.
     */
    static final String PUT_SCRIPT = """
            if ARGV[2] == '0' then
              redis.call('SET', KEYS[1], ARGV[1])
            else
              redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
            end
            redis.call('DEL', KEYS[2])
            redis.call('HSET', KEYS[2], unpack(ARGV, 3))
            if ARGV[2] ~= '0' then redis.call('PEXPIREAT', KEYS[2], ARGV[2]) end
            return 1
            """;

    private final RedisConnectionFactory factory;
    private final Function<String, Optional<LoadedModel>> models;
    private final String prefix;
    private final Clock clock;
    private final long retryAfter;
    private final StateCache cache;
    private final byte[] putScript = PUT_SCRIPT.getBytes(StandardCharsets.UTF_8);

    /**
     * @param models         the loaded model with a given id (states are decoded against it)
     * @param cacheMaxBytes  bytes of the read-through cache; 0 disables it
     */
    public RedisStateStore(RedisConnectionFactory factory, Function<String, Optional<LoadedModel>> models, String prefix,
                           long cacheMaxBytes, long retryAfterSeconds, Clock clock) {
        this.factory = factory;
        this.models = models;
        this.prefix = prefix;
        this.clock = clock;
        this.retryAfter = retryAfterSeconds;
        this.cache = new StateCache(cacheMaxBytes);
    }

    byte[] blobKey(String id) {
        return (prefix + "state:{" + id + "}:blob").getBytes(StandardCharsets.UTF_8);
    }

    byte[] metaKey(String id) {
        return (prefix + "state:{" + id + "}:meta").getBytes(StandardCharsets.UTF_8);
    }

    // ------------------------------------------------------------------------------------------------ reads

    @Override
    public Optional<StateMeta> meta(String id) {
        return readMeta(id).map(Meta::meta);
    }

    @Override
    public Optional<StoredState> get(String id) {
        for (int attempt = 0; attempt < 3; attempt++) {
            Optional<Meta> m = readMeta(id);
            if (m.isEmpty()) {
                cache.evict(id);
                return Optional.empty();
            }
            StateMeta meta = m.get().meta();
            int crc = m.get().checksum();
            StateCache.Entry hit = cache.get(id, crc);
            if (hit != null) return Optional.of(new StoredState(meta, hit.state(), hit.lastLogits()));

            byte[] blob = redis(c -> c.stringCommands().get(blobKey(id)));
            if (blob == null) return Optional.empty(); // deleted or expired between the two reads
            if (StateCodec.storedChecksum(blob) != crc) continue; // rewritten between the two reads: read again
            LoadedModel model = models.apply(meta.model()).orElseThrow(() -> new EngramException(ProblemType.UNKNOWN_MODEL,
                    "state " + id + " belongs to model '" + meta.model() + "', which this server has not loaded"));
            StateCodec.Decoded d;
            try {
                d = StateCodec.decode(blob, model.fingerprint(), model.model());
            } catch (StateBlobException e) {
                if (e.incompatible()) {
                    throw new EngramException(ProblemType.MODEL_MISMATCH, "state " + id + " was made by another version of model '"
                            + meta.model() + "' (" + e.getMessage() + ")");
                }
                // cannot happen short of corruption inside Redis; the state is content-addressed, so drop it and
                // let the client prime it again rather than serve it or fail on it forever
                log.error("State {} in Redis is corrupt ({}); deleting it", id, e.getMessage());
                delete(id);
                return Optional.empty();
            }
            cache.put(id, crc, d.state(), d.lastLogits());
            return Optional.of(new StoredState(meta, d.state(), d.lastLogits()));
        }
        // the metadata names a blob that is not there: only possible if someone wrote these keys by hand
        log.error("State {} in Redis: the blob does not match its metadata's checksum; treating it as missing", id);
        return Optional.empty();
    }

    private record Meta(StateMeta meta, int checksum) {}

    private Optional<Meta> readMeta(String id) {
        Map<byte[], byte[]> raw = redis(c -> c.hashCommands().hGetAll(metaKey(id)));
        if (raw == null || raw.isEmpty()) return Optional.empty();
        Map<String, String> h = new HashMap<>();
        raw.forEach((k, v) -> h.put(new String(k, StandardCharsets.UTF_8), new String(v, StandardCharsets.UTF_8)));
        try {
            StateMeta meta = new StateMeta(h.get("id"), h.get("model"), h.get("kind"), Long.parseLong(h.get("tokens")),
                    Long.parseLong(h.get("total_tokens")), h.get("parent"), Long.parseLong(h.get("bytes")),
                    Instant.parse(h.get("created_at")), h.containsKey("expires_at") ? Instant.parse(h.get("expires_at")) : null);
            if (!id.equals(meta.id()) || meta.model() == null) throw new IllegalStateException("bad id or model");
            if (meta.expired(clock.instant())) return Optional.empty(); // Redis expires it within the millisecond
            return Optional.of(new Meta(meta, Integer.parseUnsignedInt(h.get("crc"), 16)));
        } catch (RuntimeException e) {
            log.error("Metadata of state {} in Redis is unreadable ({}); treating the state as missing", id, e.toString());
            return Optional.empty();
        }
    }

    // ------------------------------------------------------------------------------------------------ writes

    @Override
    public void put(StoredState s) {
        StateMeta m = s.meta();
        LoadedModel model = models.apply(m.model()).orElseThrow(() -> new IllegalStateException("unknown model " + m.model()));
        byte[] blob = StateCodec.encode(model.fingerprint(), s.state(), s.lastLogits());
        int crc = StateCodec.storedChecksum(blob);
        Map<String, String> fields = new LinkedHashMap<>();
        fields.put("id", m.id());
        fields.put("model", m.model());
        fields.put("kind", m.kind());
        fields.put("tokens", Long.toString(m.tokens()));
        fields.put("total_tokens", Long.toString(m.totalTokens()));
        if (m.parent() != null) fields.put("parent", m.parent());
        fields.put("bytes", Long.toString(m.bytes()));
        fields.put("created_at", m.createdAt().toString());
        if (m.expiresAt() != null) fields.put("expires_at", m.expiresAt().toString());
        fields.put("crc", Integer.toHexString(crc));
        fields.put("format", Integer.toString(StateCodec.VERSION));
        fields.put("blob_bytes", Integer.toString(blob.length));

        List<byte[]> keysAndArgs = new ArrayList<>();
        keysAndArgs.add(blobKey(m.id()));
        keysAndArgs.add(metaKey(m.id()));
        keysAndArgs.add(blob);
        keysAndArgs.add(bytes(m.expiresAt() == null ? "0" : Long.toString(Math.max(1, m.expiresAt().toEpochMilli()))));
        fields.forEach((k, v) -> {
            keysAndArgs.add(bytes(k));
            keysAndArgs.add(bytes(v));
        });
        byte[][] kv = keysAndArgs.toArray(byte[][]::new);
        cache.evict(m.id());
        redis(c -> c.scriptingCommands().eval(putScript, ReturnType.INTEGER, 2, kv));
        cache.put(m.id(), crc, s.state(), s.lastLogits());
    }

    @Override
    public boolean delete(String id) {
        cache.evict(id);
        Long n = redis(c -> c.keyCommands().del(metaKey(id), blobKey(id)));
        cache.evict(id);
        return n != null && n > 0;
    }

    // ------------------------------------------------------------------------------------------------ health

    @Override
    public void ping() {
        redis(RedisConnection::ping);
    }

    @Override
    public Map<String, Object> details() {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("key_prefix", prefix);
        d.put("cache_states", cache.size());
        d.put("cache_bytes", cache.bytes());
        d.put("cache_max_bytes", cache.maxBytes());
        d.put("cache_hits", cache.hits.get());
        d.put("cache_misses", cache.misses.get());
        return d;
    }

    @Override
    public String kind() {
        return "redis";
    }

    StateCache cache() {
        return cache;
    }

    // ------------------------------------------------------------------------------------------------ plumbing

    private <T> T redis(Function<RedisConnection, T> call) {
        try (RedisConnection c = factory.getConnection()) {
            return call.apply(c);
        } catch (DataAccessException | io.lettuce.core.RedisException e) {
            throw unavailable(null, e);
        }
    }

    private EngramException unavailable(String why, Exception e) {
        if (e != null) log.warn("Redis state store unavailable: {}", e.toString());
        return new EngramException(ProblemType.STORE_UNAVAILABLE, "the state store (Redis) cannot be reached right now"
                + (why == null ? "" : ": " + firstLine(why)) + "; retry shortly", retryAfter);
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
