package io.engram.state;

import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import java.time.Clock;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The embedded store used when no Redis is configured: per process, bounded by total bytes, evicting the least
 * recently used state first, and honouring each state's expiry.
 */
public final class InMemoryStateStore implements StateStore {

    private final long maxBytes;
    private final Clock clock;
    private final LinkedHashMap<String, StoredState> map = new LinkedHashMap<>(16, 0.75f, true);
    private long bytes;

    public InMemoryStateStore(long maxBytes, Clock clock) {
        this.maxBytes = maxBytes;
        this.clock = clock;
    }

    @Override
    public synchronized Optional<StoredState> get(String id) {
        StoredState s = map.get(id);
        if (s == null) return Optional.empty();
        if (s.meta().expired(clock.instant())) {
            remove(id);
            return Optional.empty();
        }
        return Optional.of(s);
    }

    @Override
    public Optional<StateMeta> meta(String id) {
        return get(id).map(StoredState::meta);
    }

    @Override
    public synchronized void put(StoredState state) {
        long size = size(state);
        if (size > maxBytes) {
            throw new EngramException(ProblemType.STATE_TOO_LARGE, "the state needs " + size + " bytes; the in-memory store "
                    + "holds at most " + maxBytes + " (engram.memory.max-bytes): raise it, or use engram.store=redis");
        }
        remove(state.meta().id());
        map.put(state.meta().id(), state);
        bytes += size;
        Iterator<Map.Entry<String, StoredState>> it = map.entrySet().iterator();
        while (bytes > maxBytes && it.hasNext()) {
            Map.Entry<String, StoredState> eldest = it.next();
            if (eldest.getKey().equals(state.meta().id())) continue;
            bytes -= size(eldest.getValue());
            it.remove();
        }
    }

    @Override
    public synchronized boolean delete(String id) {
        return remove(id);
    }

    @Override
    public synchronized boolean delete(String id, String tenant) {
        StoredState s = map.get(id);
        if (s != null && !s.meta().tenant().equals(tenant)) return false;
        return remove(id);
    }

    private boolean remove(String id) {
        StoredState old = map.remove(id);
        if (old != null) bytes -= size(old);
        return old != null;
    }

    public synchronized long bytes() {
        return bytes;
    }

    @Override
    public long bytesStored() {
        return bytes();
    }

    private static long size(StoredState s) {
        return s.state().byteSize() + (s.lastLogits() == null ? 0 : 4L * s.lastLogits().length);
    }

    @Override
    public synchronized java.util.Map<String, Object> details() {
        return java.util.Map.of("states", map.size(), "bytes", bytes, "max_bytes", maxBytes);
    }

    @Override
    public String kind() {
        return "memory";
    }
}
