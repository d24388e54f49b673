package io.engram.state;

import io.engram.model.ModelState;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The in-process read-through cache in front of a remote store: decoded states keyed by id, each tagged with the
 * checksum of the blob it came from, bounded by bytes with least-recently-used eviction. It never decides on its own
 * that an entry is still valid: the store presents the checksum it just read from the state's metadata, and only
 * an entry with that very checksum is served (see {@link RedisStateStore#get}).
 */
final class StateCache {

    /** A decoded state and the checksum of its blob. */
    record Entry(int checksum, ModelState state, float[] lastLogits, long bytes) {}

    private final long maxBytes;
    private final LinkedHashMap<String, Entry> map = new LinkedHashMap<>(16, 0.75f, true);
    private long bytes;
    final AtomicLong hits = new AtomicLong();
    final AtomicLong misses = new AtomicLong();

    StateCache(long maxBytes) {
        this.maxBytes = maxBytes;
    }

    /** The entry for {@code id} if it was decoded from the blob with {@code checksum}; otherwise it is dropped. */
    synchronized Entry get(String id, int checksum) {
        Entry e = map.get(id);
        if (e != null && e.checksum() == checksum) {
            hits.incrementAndGet();
            return e;
        }
        if (e != null) remove(id);
        misses.incrementAndGet();
        return null;
    }

    synchronized void put(String id, int checksum, ModelState state, float[] lastLogits) {
        long size = state.byteSize() + (lastLogits == null ? 0 : 4L * lastLogits.length);
        remove(id);
        if (size > maxBytes) return;
        map.put(id, new Entry(checksum, state, lastLogits, size));
        bytes += size;
        Iterator<Map.Entry<String, Entry>> it = map.entrySet().iterator();
        while (bytes > maxBytes && it.hasNext()) {
            Map.Entry<String, Entry> eldest = it.next();
            if (eldest.getKey().equals(id)) continue;
            bytes -= eldest.getValue().bytes();
            it.remove();
        }
    }

    synchronized void evict(String id) {
        remove(id);
    }

    synchronized void clear() {
        map.clear();
        bytes = 0;
    }

    private void remove(String id) {
        Entry old = map.remove(id);
        if (old != null) bytes -= old.bytes();
    }

    synchronized long bytes() {
        return bytes;
    }

    synchronized int size() {
        return map.size();
    }

    long maxBytes() {
        return maxBytes;
    }
}
