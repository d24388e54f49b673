package io.engram.weights;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A deliberately tiny pickle interpreter for {@code torch.save} state dicts. It is a data parser, not a Python VM: it
 * understands the opcodes torch writes at protocol 2 (plus harmless ones and protocol 4 framing), and it resolves
 * only the globals in {@link TorchGlobal}. Calling a global ({@code REDUCE}) is limited to building an
 * {@code OrderedDict} and describing tensors; any other global, callable or opcode ({@code INST}, {@code OBJ},
 * {@code NEWOBJ}, ...) is refused with a {@link CheckpointException}, so a checkpoint cannot run code. No Java class
 * is ever instantiated from pickle data and Java serialization is never used.
 *
 * <p>Values are plain Java objects: {@link Long}/{@link BigInteger}, {@link Double}, {@link Boolean}, {@code null},
 * {@link String}, {@code byte[]}, {@link Tuple}, {@link ArrayList}, {@link Dict}, {@link TorchGlobal},
 * {@link StorageRef} (from a persistent id) and {@link TensorRef} (from {@code _rebuild_tensor_v2}).
 */
final class RestrictedUnpickler {

    /** An immutable Python tuple. */
    record Tuple(List<Object> items) {
        Tuple {
            items = java.util.Collections.unmodifiableList(new ArrayList<>(items));
        }

        int size() {
            return items.size();
        }

        Object get(int i) {
            return items.get(i);
        }
    }

    /** A Python dict or OrderedDict; {@code state} is what a BUILD set on it (torch's {@code _metadata}). */
    static final class Dict {
        final Map<Object, Object> items = new LinkedHashMap<>();
        Object state;
    }

    private static final int MAX_PROTOCOL = 5;

    private final byte[] data;
    private final String source;
    private int pos;
    private final List<Object> stack = new ArrayList<>();
    private final Deque<Integer> marks = new ArrayDeque<>();
    private final Map<Long, Object> memo = new HashMap<>();

    private RestrictedUnpickler(byte[] data, String source) {
        this.data = data;
        this.source = source;
    }

    /**
     * Interprets a pickle.
     *
     * @param source names the file in error messages
     * @return the pickled object
     */
    static Object load(byte[] data, String source) {
        return new RestrictedUnpickler(data, source).run();
    }

    private Object run() {
        while (true) {
            if (pos >= data.length) {
                throw corrupt("ends without STOP");
            }
            int at = pos;
            int op = data[pos++] & 0xFF;
            switch (op) {
                case 0x80 -> { // PROTO
                    int v = u8();
                    if (v > MAX_PROTOCOL) {
                        throw corrupt("unsupported pickle protocol " + v);
                    }
                }
                case 0x95 -> bytes(8); // FRAME: a length hint only
                case '.' -> { // STOP
                    return pop();
                }
                // constants and scalars
                case 'N' -> push(null);
                case 0x88 -> push(Boolean.TRUE);
                case 0x89 -> push(Boolean.FALSE);
                case 'J' -> push((long) i32());
                case 'K' -> push((long) u8());
                case 'M' -> push((long) u16());
                case 0x8A -> push(littleEndianInt(bytes(u8()))); // LONG1
                case 0x8B -> push(littleEndianInt(bytes(length(i32())))); // LONG4
                case 'G' -> push(Double.longBitsToDouble(bigEndianLong(bytes(8)))); // BINFLOAT
                // strings and bytes
                case 'X' -> push(utf8(bytes(length(i32())))); // BINUNICODE
                case 0x8C -> push(utf8(bytes(u8()))); // SHORT_BINUNICODE
                case 0x8D -> push(utf8(bytes(length(i64())))); // BINUNICODE8
                case 'T' -> push(latin1(bytes(length(i32())))); // BINSTRING
                case 'U' -> push(latin1(bytes(u8()))); // SHORT_BINSTRING
                case 'B' -> push(bytes(length(i32()))); // BINBYTES
                case 'C' -> push(bytes(u8())); // SHORT_BINBYTES
                case 0x8E -> push(bytes(length(i64()))); // BINBYTES8
                // containers
                case '(' -> marks.push(stack.size()); // MARK
                case ')' -> push(new Tuple(List.of())); // EMPTY_TUPLE
                case 't' -> push(new Tuple(popMark())); // TUPLE
                case 0x85 -> push(new Tuple(popN(1))); // TUPLE1
                case 0x86 -> push(new Tuple(popN(2))); // TUPLE2
                case 0x87 -> push(new Tuple(popN(3))); // TUPLE3
                case ']' -> push(new ArrayList<>()); // EMPTY_LIST
                case 'l' -> push(new ArrayList<>(popMark())); // LIST
                case 'a' -> { // APPEND
                    Object v = pop();
                    list(peek()).add(v);
                }
                case 'e' -> { // APPENDS
                    List<Object> items = popMark();
                    list(peek()).addAll(items);
                }
                case '}' -> push(new Dict()); // EMPTY_DICT
                case 'd' -> { // DICT
                    Dict d = new Dict();
                    putAll(d, popMark());
                    push(d);
                }
                case 's' -> { // SETITEM
                    Object v = pop();
                    Object k = pop();
                    put(dict(peek()), k, v);
                }
                case 'u' -> { // SETITEMS
                    List<Object> items = popMark();
                    putAll(dict(peek()), items);
                }
                // stack and memo
                case '0' -> pop(); // POP
                case '1' -> popMark(); // POP_MARK
                case '2' -> push(peek()); // DUP
                case 'q' -> memo.put((long) u8(), peek()); // BINPUT
                case 'r' -> memo.put(u32(), peek()); // LONG_BINPUT
                case 0x94 -> memo.put((long) memo.size(), peek()); // MEMOIZE
                case 'h' -> push(memoGet(u8())); // BINGET
                case 'j' -> push(memoGet(u32())); // LONG_BINGET
                // the restricted object model
                case 'c' -> push(global(line(), line())); // GLOBAL
                case 0x93 -> { // STACK_GLOBAL
                    Object name = pop();
                    Object module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) {
                        throw corrupt("STACK_GLOBAL needs two strings");
                    }
                    push(global(m, n));
                }
                case 'Q' -> push(persistentLoad(pop())); // BINPERSID
                case 'R' -> { // REDUCE
                    Object args = pop();
                    Object callable = pop();
                    push(reduce(callable, args));
                }
                case 'b' -> { // BUILD
                    Object state = pop();
                    build(peek(), state);
                }
                default -> throw new CheckpointException("unsupported pickle opcode " + describeOpcode(op)
                        + " at byte " + at + " in " + source + ": a checkpoint may only contain tensors");
            }
        }
    }

    // ---- restricted semantics

    private TorchGlobal global(String module, String name) {
        TorchGlobal g = TorchGlobal.lookup(module, name);
        if (g == null) {
            throw new CheckpointException("refusing pickle global '" + printable(module) + "." + printable(name)
                    + "' in " + source + ": a checkpoint may only contain tensors");
        }
        return g;
    }

    private Object reduce(Object callable, Object argsObj) {
        if (!(callable instanceof TorchGlobal g)) {
            throw new CheckpointException("refusing to call a " + typeName(callable) + " from the pickle in "
                    + source + ": a checkpoint may only contain tensors");
        }
        if (!(argsObj instanceof Tuple args)) {
            throw corrupt("REDUCE arguments for " + g.qualifiedName() + " are not a tuple");
        }
        switch (g) {
            case ORDERED_DICT:
                if (args.size() == 0) {
                    return new Dict();
                }
                if (args.size() == 1 && args.get(0) instanceof Dict src) {
                    Dict d = new Dict();
                    d.items.putAll(src.items);
                    return d;
                }
                throw corrupt("unsupported OrderedDict arguments");
            case REBUILD_TENSOR_V2:
                return rebuildTensor(args);
            case REBUILD_PARAMETER:
                if (args.size() < 1 || !(args.get(0) instanceof TensorRef t)) {
                    throw corrupt("_rebuild_parameter without a tensor");
                }
                return t;
            default:
                throw new CheckpointException("refusing to call pickle global '" + g.qualifiedName() + "' in "
                        + source + ": a checkpoint may only contain tensors");
        }
    }

    /** {@code _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])}. */
    private TensorRef rebuildTensor(Tuple args) {
        if (args.size() < 4 || args.size() > 7) {
            throw corrupt("_rebuild_tensor_v2 takes 4 to 7 arguments, got " + args.size());
        }
        if (!(args.get(0) instanceof StorageRef storage)) {
            throw corrupt("_rebuild_tensor_v2 without a storage");
        }
        long offset = nonNegative(args.get(1), "storage offset");
        long[] size = longTuple(args.get(2), "size");
        long[] stride = longTuple(args.get(3), "stride");
        if (size.length != stride.length) {
            throw corrupt("tensor size has " + size.length + " dimensions but stride has " + stride.length);
        }
        return new TensorRef(storage, offset, size, stride);
    }

    /** torch's persistent id for a storage: {@code ('storage', torch.<Type>Storage, key, location, numel)}. */
    private StorageRef persistentLoad(Object pid) {
        if (!(pid instanceof Tuple t) || t.size() != 5 || !"storage".equals(t.get(0))) {
            throw new CheckpointException("refusing pickle persistent id in " + source
                    + ": only torch storages ('storage', type, key, location, numel) are allowed");
        }
        if (!(t.get(1) instanceof TorchGlobal g) || g.storageDType() == null) {
            throw corrupt("persistent id names no torch storage class");
        }
        if (!(t.get(2) instanceof String key) || key.isEmpty() || !(t.get(3) instanceof String location)) {
            throw corrupt("persistent id has a bad storage key or location");
        }
        return new StorageRef(key, g.storageDType(), location, nonNegative(t.get(4), "storage size"));
    }

    private void build(Object target, Object state) {
        if (!(target instanceof Dict d)) {
            throw new CheckpointException("refusing BUILD on a " + typeName(target) + " in " + source
                    + ": a checkpoint may only contain tensors");
        }
        d.state = state;
    }

    // ---- containers

    private static final Class<?>[] KEY_TYPES = {String.class, Long.class, BigInteger.class, Double.class,
        Boolean.class};

    private void put(Dict d, Object key, Object value) {
        boolean ok = key == null;
        for (Class<?> c : KEY_TYPES) {
            ok |= c.isInstance(key);
        }
        if (!ok) {
            throw corrupt("unsupported dict key type " + typeName(key));
        }
        d.items.put(key, value);
    }

    private void putAll(Dict d, List<Object> items) {
        if (items.size() % 2 != 0) {
            throw corrupt("odd number of items for a dict");
        }
        for (int i = 0; i < items.size(); i += 2) {
            put(d, items.get(i), items.get(i + 1));
        }
    }

    private List<Object> list(Object o) {
        if (o instanceof ArrayList<?>) {
            @SuppressWarnings("unchecked")
            List<Object> l = (List<Object>) o;
            return l;
        }
        throw corrupt("APPEND to a " + typeName(o));
    }

    private Dict dict(Object o) {
        if (o instanceof Dict d) {
            return d;
        }
        throw corrupt("SETITEM on a " + typeName(o));
    }

    private long nonNegative(Object o, String what) {
        if (o instanceof Long l && l >= 0) {
            return l;
        }
        throw corrupt("bad " + what);
    }

    private long[] longTuple(Object o, String what) {
        if (!(o instanceof Tuple t)) {
            throw corrupt("tensor " + what + " is not a tuple");
        }
        long[] out = new long[t.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = nonNegative(t.get(i), "tensor " + what);
        }
        return out;
    }

    // ---- stack and memo

    private void push(Object o) {
        stack.add(o);
    }

    private Object pop() {
        int floor = marks.isEmpty() ? 0 : marks.peek();
        if (stack.size() <= floor) {
            throw corrupt("stack underflow");
        }
        return stack.remove(stack.size() - 1);
    }

    private Object peek() {
        int floor = marks.isEmpty() ? 0 : marks.peek();
        if (stack.size() <= floor) {
            throw corrupt("stack underflow");
        }
        return stack.get(stack.size() - 1);
    }

    private List<Object> popN(int n) {
        List<Object> items = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            items.add(0, pop());
        }
        return items;
    }

    private List<Object> popMark() {
        if (marks.isEmpty()) {
            throw corrupt("no MARK on the stack");
        }
        int mark = marks.pop();
        List<Object> tail = stack.subList(mark, stack.size());
        List<Object> items = new ArrayList<>(tail);
        tail.clear();
        return items;
    }

    private Object memoGet(long index) {
        if (!memo.containsKey(index)) {
            throw corrupt("memo key " + index + " is not set");
        }
        return memo.get(index);
    }

    // ---- reading

    private int u8() {
        need(1);
        return data[pos++] & 0xFF;
    }

    private int u16() {
        need(2);
        int v = (data[pos] & 0xFF) | (data[pos + 1] & 0xFF) << 8;
        pos += 2;
        return v;
    }

    private int i32() {
        need(4);
        int v = (data[pos] & 0xFF) | (data[pos + 1] & 0xFF) << 8 | (data[pos + 2] & 0xFF) << 16
                | (data[pos + 3] & 0xFF) << 24;
        pos += 4;
        return v;
    }

    private long u32() {
        return i32() & 0xFFFFFFFFL;
    }

    private long i64() {
        long lo = u32();
        long hi = u32();
        return lo | hi << 32;
    }

    /** A length operand: rejected if negative or longer than what is left, so nothing is over-allocated. */
    private int length(long n) {
        if (n < 0 || n > data.length - pos) {
            throw corrupt("length " + n + " runs past the end of the pickle");
        }
        return (int) n;
    }

    private byte[] bytes(int n) {
        need(n);
        byte[] b = java.util.Arrays.copyOfRange(data, pos, pos + n);
        pos += n;
        return b;
    }

    private String line() {
        int start = pos;
        while (pos < data.length && data[pos] != '\n') {
            pos++;
        }
        if (pos >= data.length) {
            throw corrupt("unterminated GLOBAL line");
        }
        String s = new String(data, start, pos - start, StandardCharsets.UTF_8);
        pos++; // newline
        return s;
    }

    private void need(int n) {
        if (n < 0 || n > data.length - pos) {
            throw corrupt("truncated pickle");
        }
    }

    private static Object littleEndianInt(byte[] le) {
        if (le.length == 0) {
            return 0L;
        }
        byte[] be = new byte[le.length];
        for (int i = 0; i < le.length; i++) {
            be[i] = le[le.length - 1 - i];
        }
        BigInteger v = new BigInteger(be);
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    private static long bigEndianLong(byte[] b) {
        long v = 0;
        for (byte x : b) {
            v = v << 8 | (x & 0xFF);
        }
        return v;
    }

    private static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    private static String latin1(byte[] b) {
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    // ---- messages

    private CheckpointException corrupt(String what) {
        return new CheckpointException("corrupt pickle in " + source + " at byte " + pos + ": " + what);
    }

    private static String describeOpcode(int op) {
        String hex = String.format("0x%02x", op);
        return op >= 0x21 && op < 0x7F ? hex + " ('" + (char) op + "')" : hex;
    }

    private static String typeName(Object o) {
        if (o == null) {
            return "None";
        }
        if (o instanceof TorchGlobal g) {
            return g.qualifiedName();
        }
        return o.getClass().getSimpleName();
    }

    /** Untrusted text for an error message: at most 80 characters, non-printables replaced. */
    private static String printable(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && i < 80; i++) {
            char c = s.charAt(i);
            b.append(c >= 0x20 && c < 0x7F ? c : '?');
        }
        return s.length() > 80 ? b + "..." : b.toString();
    }
}
