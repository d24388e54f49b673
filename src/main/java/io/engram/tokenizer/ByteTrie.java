package io.engram.tokenizer;

import java.util.Arrays;

/**
 * A compact, immutable byte trie over token byte sequences, used for greedy longest-prefix matching.
 *
 * <p>Nodes are numbered breadth-first and stored in parallel arrays. The children of a node are consecutive
 * nodes, sorted by their byte: {@code firstChild[n] .. firstChild[n] + childCount[n] - 1}. A child is found
 * by direct indexing when a node has all 256 children (the root of a byte-complete vocabulary), else by
 * binary search over at most 255 labels. For the 65k-token RWKV vocabulary this is about 116k nodes and
 * 1.3 MB.
 */
final class ByteTrie {

    private final int[] firstChild;
    private final short[] childCount;
    private final byte[] label;
    /** The token ending at each node, or 0 (id 0 is never a token). */
    private final int[] tokenAt;

    private ByteTrie(int[] firstChild, short[] childCount, byte[] label, int[] tokenAt) {
        this.firstChild = firstChild;
        this.childCount = childCount;
        this.label = label;
        this.tokenAt = tokenAt;
    }

    /**
     * Builds the trie of the tokens {@code data[offsets[id], offsets[id + 1])} for {@code id} in 1..maxId
     * (empty ranges are unused ids).
     *
     * @throws IllegalArgumentException if two ids have the same bytes
     */
    static ByteTrie build(byte[] data, int[] offsets, int maxId) {
        int tokens = 0;
        for (int id = 1; id <= maxId; id++) {
            if (offsets[id + 1] > offsets[id]) {
                tokens++;
            }
        }
        Integer[] sorted = new Integer[tokens];
        int k = 0;
        for (int id = 1; id <= maxId; id++) {
            if (offsets[id + 1] > offsets[id]) {
                sorted[k++] = id;
            }
        }
        Arrays.sort(sorted, (a, b) -> Arrays.compareUnsigned(
                data, offsets[a], offsets[a + 1], data, offsets[b], offsets[b + 1]));
        int[] order = new int[tokens];
        for (int i = 0; i < tokens; i++) {
            order[i] = sorted[i];
        }

        // Every node is a distinct prefix, so the total token length bounds the node count.
        int capacity = offsets[maxId + 1] - offsets[1] + 1;
        int[] firstChild = new int[capacity];
        short[] childCount = new short[capacity];
        byte[] label = new byte[capacity];
        int[] tokenAt = new int[capacity];
        // Build-only: each node covers the range [lo, hi) of sorted tokens that start with its prefix.
        int[] lo = new int[capacity];
        int[] hi = new int[capacity];
        int[] depth = new int[capacity];

        int nodes = 1;
        hi[0] = tokens;
        for (int node = 0; node < nodes; node++) {
            int from = lo[node];
            int to = hi[node];
            int d = depth[node];
            if (node != 0 && from < to && length(offsets, order[from]) == d) {
                // The sorted range starts with the token that is exactly this prefix, if there is one.
                tokenAt[node] = order[from];
                from++;
                if (from < to && length(offsets, order[from]) == d) {
                    throw new IllegalArgumentException(
                            "ids " + order[from - 1] + " and " + order[from] + " have the same bytes");
                }
            }
            firstChild[node] = nodes;
            while (from < to) {
                byte b = data[offsets[order[from]] + d];
                int end = from + 1;
                while (end < to && data[offsets[order[end]] + d] == b) {
                    end++;
                }
                label[nodes] = b;
                depth[nodes] = d + 1;
                lo[nodes] = from;
                hi[nodes] = end;
                nodes++;
                from = end;
            }
            childCount[node] = (short) (nodes - firstChild[node]);
        }
        return new ByteTrie(
                Arrays.copyOf(firstChild, nodes),
                Arrays.copyOf(childCount, nodes),
                Arrays.copyOf(label, nodes),
                Arrays.copyOf(tokenAt, nodes));
    }

    private static int length(int[] offsets, int id) {
        return offsets[id + 1] - offsets[id];
    }

    /** Number of nodes, the root included. */
    int nodeCount() {
        return tokenAt.length;
    }

    /** The child of {@code node} along byte {@code b} (0..255), or -1. */
    private int child(int node, int b) {
        int count = childCount[node];
        int first = firstChild[node];
        if (count == 256) {
            return first + b;
        }
        int low = first;
        int high = first + count - 1;
        while (low <= high) {
            int mid = (low + high) >>> 1;
            int l = label[mid] & 0xFF;
            if (l < b) {
                low = mid + 1;
            } else if (l > b) {
                high = mid - 1;
            } else {
                return mid;
            }
        }
        return -1;
    }

    /** The token that is exactly {@code bytes}, or 0 when there is none. */
    int lookup(byte[] bytes) {
        int node = 0;
        for (byte b : bytes) {
            node = child(node, b & 0xFF);
            if (node < 0) {
                return 0;
            }
        }
        return tokenAt[node];
    }

    /**
     * Greedy longest-prefix tokenisation: from each position, walks the trie as far as the bytes allow and
     * takes the longest token seen on the way. The caller guarantees that every single byte is a token, so
     * each step advances by at least one byte; the cost is O(bytes × longest token).
     */
    int[] encode(byte[] bytes) {
        int n = bytes.length;
        int[] out = new int[Math.max(16, n / 3)];
        int count = 0;
        int pos = 0;
        while (pos < n) {
            int node = 0;
            int best = 0;
            int bestEnd = pos + 1;
            for (int i = pos; i < n; i++) {
                node = child(node, bytes[i] & 0xFF);
                if (node < 0) {
                    break;
                }
                int t = tokenAt[node];
                if (t != 0) {
                    best = t;
                    bestEnd = i + 1;
                }
            }
            if (best == 0) {
                throw new IllegalStateException("no token for byte 0x" + Integer.toHexString(bytes[pos] & 0xFF));
            }
            if (count == out.length) {
                out = Arrays.copyOf(out, out.length + (out.length >> 1) + 16);
            }
            out[count++] = best;
            pos = bestEnd;
        }
        return count == out.length ? out : Arrays.copyOf(out, count);
    }
}
