package io.engram.model.rwkv7;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The states an NDArray-path model keeps on its device between calls, so that a decode loop does not move its
 * state to the host and back every token. Each is one packed array ([L*(2C+H*N*N)], the layout of
 * {@link Rwkv7Model}'s upload). At most {@code capacity} are kept; the least recently used is brought home
 * ({@link Rwkv7State#sync()}) when a new one comes. A state read from outside (tensors, copy, combine) comes home
 * on that read, so stored and exported states are always host arrays.
 *
 * <p>Locks: a state's own lock guards its resident copy; this object's lock guards the LRU map. No code holds
 * this lock while taking a state's.
 */
final class ResidentStates implements AutoCloseable {

    /** Writes a packed state (from {@code offset}) into a state's host arrays. */
    interface Unpack {
        void into(float[] packed, int offset, Rwkv7State s);
    }

    private final NDManager manager;
    private final int capacity;
    private final Unpack unpack;
    private final LinkedHashMap<Rwkv7State, Mirror> lru = new LinkedHashMap<>(16, 0.75f, true);

    ResidentStates(NDManager parent, int capacity, Unpack unpack) {
        this.manager = parent.newSubManager();
        this.capacity = capacity;
        this.unpack = unpack;
    }

    private final class Mirror implements Rwkv7State.Resident {
        final NDArray packed;   // [per]

        Mirror(NDArray packed) {
            this.packed = packed;
        }

        ResidentStates owner() {
            return ResidentStates.this;
        }

        @Override
        public void restore(Rwkv7State s) {
            synchronized (ResidentStates.this) {
                lru.remove(s);
            }
            try {
                unpack.into(packed.toFloatArray(), 0, s);
            } finally {
                packed.close();
            }
        }
    }

    /**
     * The device copy of {@code s} if this model holds one, now owned by the caller (attach it to a scope that
     * closes it); null when the state's arrays are current.
     */
    NDArray take(Rwkv7State s) {
        Rwkv7State.Resident r = s.takeResident();
        if (r == null) return null;
        if (!(r instanceof Mirror m) || m.owner() != this) {   // another model's copy: bring it home first
            s.resident(r);
            s.sync();
            return null;
        }
        synchronized (this) {
            lru.remove(s);
        }
        return m.packed;
    }

    /** Keeps {@code packed} [per] on the device as the current value of {@code s}. */
    void keep(Rwkv7State s, NDArray packed) {
        if (capacity <= 0) throw new IllegalStateException("no resident states configured");
        NDScope.unregister(packed);
        packed.attach(manager);
        Mirror m = new Mirror(packed);
        s.resident(m);
        List<Rwkv7State> evict = new ArrayList<>();
        synchronized (this) {
            lru.put(s, m);
            Iterator<Map.Entry<Rwkv7State, Mirror>> it = lru.entrySet().iterator();
            while (lru.size() > capacity && it.hasNext()) {
                evict.add(it.next().getKey());
                it.remove();
            }
        }
        for (Rwkv7State old : evict) old.sync();
    }

    boolean enabled() {
        return capacity > 0;
    }

    /** States held now (for tests). */
    synchronized int size() {
        return lru.size();
    }

    /** Brings every state home, then frees the device memory. */
    @Override
    public void close() {
        List<Rwkv7State> all;
        synchronized (this) {
            all = new ArrayList<>(lru.keySet());
        }
        for (Rwkv7State s : all) s.sync();
        manager.close();
    }
}
