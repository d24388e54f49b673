package io.engram.weights;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * One {@code .safetensors} file, read through memory mapping.
 *
 * <p>Format: an unsigned 64-bit little-endian header length N, then N bytes of UTF-8 JSON, then the data section.
 * The JSON object maps each tensor name to {@code {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}},
 * offsets being relative to the start of the data section; the optional key {@code "__metadata__"} holds a
 * string-to-string map. Tensors are contiguous, row-major and little-endian.
 *
 * <p>Everything in the header is checked on open: the length against the file size, each dtype, that
 * {@code end - begin == numel * dtype size} and that every range lies inside the file. {@link #get(String)} then maps
 * the tensor's bytes without copying.
 */
final class SafetensorsFile implements Checkpoint {

    /** The safetensors reference implementation refuses headers above 100 MB. */
    static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    private record Entry(WeightDType dtype, long[] shape, long begin, long end) {
    }

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final SortedMap<String, Entry> entries;
    private final Map<String, String> metadata;
    private final SortedSet<String> names;
    private volatile boolean closed;

    private SafetensorsFile(Path path, FileChannel channel, long dataStart, SortedMap<String, Entry> entries,
            Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.entries = entries;
        this.metadata = metadata;
        this.names = Collections.unmodifiableSortedSet(new TreeSet<>(entries.keySet()));
    }

    /** Opens and validates a safetensors file; throws CheckpointException naming the file on any problem. */
    static SafetensorsFile open(Path path) {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new CheckpointException("cannot open safetensors file " + path + ": " + e, e);
        }
        try {
            return read(path, ch);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        } catch (IOException e) {
            closeQuietly(ch);
            throw new CheckpointException("cannot read safetensors file " + path + ": " + e, e);
        }
    }

    private static SafetensorsFile read(Path path, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < 8) {
            throw new CheckpointException("truncated safetensors file " + path + ": " + size
                    + " bytes, shorter than the 8-byte header length");
        }
        ByteBuffer lenBuf = readFully(ch, 0, 8).order(ByteOrder.LITTLE_ENDIAN);
        long headerLen = lenBuf.getLong(0);
        if (headerLen < 0 || headerLen > size - 8) {
            throw new CheckpointException("corrupt safetensors file " + path + ": header length "
                    + Long.toUnsignedString(headerLen) + " exceeds the file size " + size);
        }
        if (headerLen > MAX_HEADER_BYTES) {
            throw new CheckpointException("corrupt safetensors file " + path + ": header length " + headerLen
                    + " exceeds the " + MAX_HEADER_BYTES + "-byte limit");
        }
        ByteBuffer headerBytes = readFully(ch, 8, (int) headerLen);
        String json;
        try {
            json = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(headerBytes).toString();
        } catch (CharacterCodingException e) {
            throw new CheckpointException("corrupt safetensors file " + path + ": header is not UTF-8", e);
        }
        Object parsed;
        try {
            parsed = Json.parse(json);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException("corrupt safetensors file " + path + ": " + e.getMessage(), e);
        }
        if (!(parsed instanceof Map<?, ?> header)) {
            throw new CheckpointException("corrupt safetensors file " + path + ": header is not a JSON object");
        }
        long dataStart = 8 + headerLen;
        long dataLen = size - dataStart;
        SortedMap<String, Entry> entries = new TreeMap<>();
        Map<String, String> metadata = Map.of();
        for (Map.Entry<?, ?> e : header.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals("__metadata__")) {
                metadata = parseMetadata(path, e.getValue());
            } else {
                entries.put(name, parseEntry(path, name, e.getValue(), dataLen));
            }
        }
        return new SafetensorsFile(path, ch, dataStart, Collections.unmodifiableSortedMap(entries), metadata);
    }

    private static Map<String, String> parseMetadata(Path path, Object value) {
        if (!(value instanceof Map<?, ?> m)) {
            throw new CheckpointException("corrupt safetensors file " + path + ": __metadata__ is not an object");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            Object v = e.getValue();
            if (v instanceof Map || v instanceof List) {
                throw new CheckpointException("corrupt safetensors file " + path + ": __metadata__ value for '"
                        + e.getKey() + "' is not a string");
            }
            out.put((String) e.getKey(), String.valueOf(v));
        }
        return Collections.unmodifiableMap(out);
    }

    private static Entry parseEntry(Path path, String name, Object value, long dataLen) {
        String where = "tensor '" + name + "' in safetensors file " + path;
        if (!(value instanceof Map<?, ?> m)) {
            throw new CheckpointException("corrupt " + where + ": header entry is not an object");
        }
        if (!(m.get("dtype") instanceof String dtypeName)) {
            throw new CheckpointException("corrupt " + where + ": missing dtype");
        }
        WeightDType dtype;
        try {
            dtype = WeightDType.fromSafetensors(dtypeName);
        } catch (CheckpointException e) {
            throw new CheckpointException("unsupported dtype '" + dtypeName + "' for " + where, e);
        }
        long[] shape = longs(m.get("shape"), -1, where, "shape");
        long[] offsets = longs(m.get("data_offsets"), 2, where, "data_offsets");
        long begin = offsets[0];
        long end = offsets[1];
        long bytes;
        try {
            bytes = Math.multiplyExact(HostTensor.numelOf(shape), (long) dtype.byteSize());
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw new CheckpointException("corrupt " + where + ": bad shape " + Arrays.toString(shape), e);
        }
        if (begin > end) {
            throw new CheckpointException("corrupt " + where + ": data_offsets [" + begin + ", " + end
                    + "] are reversed");
        }
        if (end > dataLen) {
            throw new CheckpointException("truncated or corrupt " + where + ": data_offsets [" + begin + ", " + end
                    + "] lie past the end of the " + dataLen + "-byte data section");
        }
        if (end - begin != bytes) {
            throw new CheckpointException("corrupt " + where + ": data_offsets [" + begin + ", " + end + "] span "
                    + (end - begin) + " bytes but " + dtype + " " + Arrays.toString(shape) + " needs " + bytes);
        }
        return new Entry(dtype, shape, begin, end);
    }

    private static long[] longs(Object value, int expectedLength, String where, String field) {
        if (!(value instanceof List<?> list) || (expectedLength >= 0 && list.size() != expectedLength)) {
            throw new CheckpointException("corrupt " + where + ": bad " + field);
        }
        long[] out = new long[list.size()];
        for (int i = 0; i < out.length; i++) {
            Object v = list.get(i);
            if (v instanceof BigInteger || !(v instanceof Long l) || l < 0) {
                throw new CheckpointException("corrupt " + where + ": bad " + field + " value " + v);
            }
            out[i] = l;
        }
        return out;
    }

    private static ByteBuffer readFully(FileChannel ch, long position, int length) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(length);
        while (buf.hasRemaining()) {
            int n = ch.read(buf, position + buf.position());
            if (n < 0) {
                throw new IOException("unexpected end of file");
            }
        }
        return buf.flip();
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing useful to do
        }
    }

    Path path() {
        return path;
    }

    @Override
    public Set<String> names() {
        return names;
    }

    @Override
    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    @Override
    public HostTensor get(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new CheckpointException("missing tensor '" + name + "' in " + path);
        }
        if (closed) {
            throw new CheckpointException("cannot read tensor '" + name + "': " + path + " is closed");
        }
        long len = e.end - e.begin;
        if (len > Integer.MAX_VALUE) {
            throw new CheckpointException("tensor '" + name + "' in " + path + " is " + len
                    + " bytes, more than one buffer can map (2 GiB)");
        }
        ByteBuffer data;
        try {
            data = len == 0 ? ByteBuffer.allocate(0)
                    : channel.map(FileChannel.MapMode.READ_ONLY, dataStart + e.begin, len);
        } catch (IOException ex) {
            throw new CheckpointException("cannot map tensor '" + name + "' in " + path + ": " + ex, ex);
        }
        return new HostTensor(name, e.dtype, e.shape, data);
    }

    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public List<Path> files() {
        return List.of(path);
    }

    @Override
    public void close() {
        closed = true;
        closeQuietly(channel);
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + path + ", " + entries.size() + " tensors]";
    }
}
