package io.engram.weights;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * A {@code torch.save} file ({@code .pth}/{@code .pt}, the zip format of PyTorch 1.6+).
 *
 * <p>Format: a zip whose entries sit under one folder ({@code <stem>/}): {@code data.pkl} is a pickle of the state
 * dict, {@code data/<key>} holds the raw little-endian bytes of storage {@code key}, plus {@code version} and, in
 * newer files, {@code byteorder}. In the pickle each tensor is
 * {@code torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)} and each storage a
 * persistent id {@code ('storage', torch.<Type>Storage, key, location, numel)}. The pickle is read by
 * {@link RestrictedUnpickler}, which cannot run code.
 *
 * <p>Tensor descriptions are read and checked against their storages on open; {@link #get(String)} reads the bytes
 * the tensor covers and copies them into a contiguous row-major buffer, honouring the storage offset and strides
 * (transposes, slices, shared storages, 0-d tensors). The element type stays that of the storage. The top-level
 * tensors of the pickled dict are used; if it holds none, a single nested dict of tensors (such as
 * {@code "state_dict"} or {@code "model"}) is used instead.
 */
final class PthFile implements Checkpoint {

    static final long MAX_PICKLE_BYTES = 256L * 1024 * 1024;

    private final Path path;
    private final ZipFile zip;
    private final String prefix;
    private final SortedMap<String, TensorRef> tensors;
    private final SortedSet<String> names;
    private volatile boolean closed;

    private PthFile(Path path, ZipFile zip, String prefix, SortedMap<String, TensorRef> tensors) {
        this.path = path;
        this.zip = zip;
        this.prefix = prefix;
        this.tensors = tensors;
        this.names = Collections.unmodifiableSortedSet(new TreeSet<>(tensors.keySet()));
    }

    /** Opens a torch.save zip, interprets its pickle and checks every tensor against its storage. */
    static PthFile open(Path path) {
        ZipFile zip = openZip(path);
        try {
            String pickleName = findPickle(path, zip);
            String prefix = pickleName.substring(0, pickleName.length() - "data.pkl".length());
            checkByteOrder(path, zip, prefix);
            byte[] pickle = readEntry(zip, zip.getEntry(pickleName), MAX_PICKLE_BYTES, path, "pickle");
            Object root = RestrictedUnpickler.load(pickle, path.toString());
            SortedMap<String, TensorRef> tensors = selectTensors(path, root);
            for (Map.Entry<String, TensorRef> e : tensors.entrySet()) {
                validate(path, zip, prefix, e.getKey(), e.getValue());
            }
            return new PthFile(path, zip, prefix, Collections.unmodifiableSortedMap(tensors));
        } catch (RuntimeException e) {
            closeQuietly(zip);
            throw e;
        }
    }

    private static ZipFile openZip(Path path) {
        if (!Files.isRegularFile(path)) {
            throw new CheckpointException("no such checkpoint file: " + path);
        }
        try {
            return new ZipFile(path.toFile());
        } catch (ZipException e) {
            throw new CheckpointException("corrupt torch checkpoint " + path + ": not a valid zip file"
                    + (looksLikeLegacyPickle(path) ? " (it looks like the legacy pre-1.6 torch.save format, which"
                            + " is not supported: re-save it with a current PyTorch)" : "") + ": " + e.getMessage(), e);
        } catch (IOException e) {
            throw new CheckpointException("cannot open torch checkpoint " + path + ": " + e, e);
        }
    }

    private static boolean looksLikeLegacyPickle(Path path) {
        try (InputStream in = Files.newInputStream(path)) {
            byte[] head = in.readNBytes(2);
            return head.length == 2 && (head[0] & 0xFF) == 0x80;
        } catch (IOException e) {
            return false;
        }
    }

    /** The single {@code data.pkl} entry, either at the root or one folder deep. */
    private static String findPickle(Path path, ZipFile zip) {
        List<String> found = new ArrayList<>();
        Enumeration<? extends ZipEntry> en = zip.entries();
        while (en.hasMoreElements()) {
            String n = en.nextElement().getName();
            if (n.equals("data.pkl") || (n.endsWith("/data.pkl") && n.indexOf('/') == n.length() - 9)) {
                found.add(n);
            }
        }
        if (found.size() != 1) {
            throw new CheckpointException("corrupt torch checkpoint " + path + ": expected one '<stem>/data.pkl'"
                    + " entry, found " + (found.isEmpty() ? "none" : found));
        }
        return found.get(0);
    }

    private static void checkByteOrder(Path path, ZipFile zip, String prefix) {
        ZipEntry e = zip.getEntry(prefix + "byteorder");
        if (e != null) {
            String order = new String(readEntry(zip, e, 64, path, "byteorder"), StandardCharsets.US_ASCII).trim();
            if (!order.equals("little")) {
                throw new CheckpointException("unsupported torch checkpoint " + path + ": byte order '" + order
                        + "' (only little-endian is supported)");
            }
        }
    }

    /** The tensors of the top-level dict, or else of its single nested dict of tensors. */
    private static SortedMap<String, TensorRef> selectTensors(Path path, Object root) {
        if (!(root instanceof RestrictedUnpickler.Dict dict)) {
            throw new CheckpointException("unsupported torch checkpoint " + path
                    + ": the pickle does not hold a dict of tensors");
        }
        SortedMap<String, TensorRef> top = tensorsOf(dict);
        if (!top.isEmpty()) {
            return top;
        }
        Map<String, SortedMap<String, TensorRef>> nested = new LinkedHashMap<>();
        for (Map.Entry<Object, Object> e : dict.items.entrySet()) {
            if (e.getKey() instanceof String key && e.getValue() instanceof RestrictedUnpickler.Dict d) {
                SortedMap<String, TensorRef> t = tensorsOf(d);
                if (!t.isEmpty()) {
                    nested.put(key, t);
                }
            }
        }
        if (nested.size() == 1) {
            return nested.values().iterator().next();
        }
        for (String preferred : List.of("state_dict", "model")) {
            if (nested.containsKey(preferred)) {
                return nested.get(preferred);
            }
        }
        throw new CheckpointException("unsupported torch checkpoint " + path + ": no tensors at the top level"
                + (nested.isEmpty() ? " or in a nested dict" : " and several nested dicts of tensors " + nested.keySet()));
    }

    private static SortedMap<String, TensorRef> tensorsOf(RestrictedUnpickler.Dict dict) {
        SortedMap<String, TensorRef> out = new TreeMap<>();
        for (Map.Entry<Object, Object> e : dict.items.entrySet()) {
            if (e.getKey() instanceof String name && e.getValue() instanceof TensorRef t) {
                out.put(name, t);
            }
        }
        return out;
    }

    /** Checks that the storage entry exists, holds numel elements, and that every element the tensor reads is in it. */
    private static void validate(Path path, ZipFile zip, String prefix, String name, TensorRef t) {
        String where = "tensor '" + name + "' in " + path;
        StorageRef s = t.storage();
        ZipEntry entry = zip.getEntry(prefix + "data/" + s.key());
        if (entry == null) {
            throw new CheckpointException("corrupt " + where + ": storage entry '" + prefix + "data/" + s.key()
                    + "' is missing");
        }
        long storageBytes;
        try {
            storageBytes = Math.multiplyExact(s.numel(), (long) s.dtype().byteSize());
        } catch (ArithmeticException e) {
            throw new CheckpointException("corrupt " + where + ": storage size overflows", e);
        }
        if (entry.getSize() >= 0 && entry.getSize() < storageBytes) {
            throw new CheckpointException("truncated " + where + ": storage '" + s.key() + "' has " + entry.getSize()
                    + " bytes but " + s.numel() + " " + s.dtype() + " elements need " + storageBytes);
        }
        try {
            long numel = HostTensor.numelOf(t.size());
            if (numel > 0) {
                long last = lastElement(t);
                if (last >= s.numel()) {
                    throw new CheckpointException("corrupt " + where + ": size " + Arrays.toString(t.size())
                            + ", stride " + Arrays.toString(t.stride()) + " and offset " + t.offset()
                            + " reach element " + last + " of a storage of " + s.numel());
                }
            }
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw new CheckpointException("corrupt " + where + ": bad size " + Arrays.toString(t.size()), e);
        }
    }

    /** The highest storage element a non-empty tensor reads (strides are non-negative). */
    private static long lastElement(TensorRef t) {
        long last = t.offset();
        for (int i = 0; i < t.size().length; i++) {
            last = Math.addExact(last, Math.multiplyExact(t.size()[i] - 1, t.stride()[i]));
        }
        return last;
    }

    @Override
    public Set<String> names() {
        return names;
    }

    @Override
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    @Override
    public HostTensor get(String name) {
        TensorRef t = tensors.get(name);
        if (t == null) {
            throw new CheckpointException("missing tensor '" + name + "' in " + path);
        }
        if (closed) {
            throw new CheckpointException("cannot read tensor '" + name + "': " + path + " is closed");
        }
        String where = "tensor '" + name + "' in " + path;
        int es = t.storage().dtype().byteSize();
        long numel = HostTensor.numelOf(t.size());
        if (numel == 0) {
            return new HostTensor(name, t.storage().dtype(), t.size(), ByteBuffer.allocate(0));
        }
        long spanElements = lastElement(t) - t.offset() + 1;
        if (spanElements * es > Integer.MAX_VALUE - 8 || numel * es > Integer.MAX_VALUE - 8) {
            throw new CheckpointException(where + " is too large to load into one buffer (2 GiB)");
        }
        byte[] span = readSpan(where, t.storage(), t.offset() * es, (int) (spanElements * es));
        byte[] out = isContiguous(t) ? span : gather(t, span, (int) numel, es);
        return new HostTensor(name, t.storage().dtype(), t.size(), ByteBuffer.wrap(out));
    }

    private byte[] readSpan(String where, StorageRef s, long skip, int length) {
        ZipEntry entry = zip.getEntry(prefix + "data/" + s.key());
        try (InputStream in = zip.getInputStream(entry)) {
            in.skipNBytes(skip);
            byte[] b = in.readNBytes(length);
            if (b.length != length) {
                throw new EOFException();
            }
            return b;
        } catch (EOFException e) {
            throw new CheckpointException("truncated " + where + ": storage '" + s.key()
                    + "' is shorter than the tensor's size and stride require", e);
        } catch (IOException e) {
            throw new CheckpointException("cannot read " + where + ": " + e, e);
        }
    }

    /** Row-major contiguous: each stride equals the product of the later sizes (ignoring dimensions of size 1). */
    private static boolean isContiguous(TensorRef t) {
        long expected = 1;
        for (int i = t.size().length - 1; i >= 0; i--) {
            if (t.size()[i] != 1 && t.stride()[i] != expected) {
                return false;
            }
            expected *= t.size()[i];
        }
        return true;
    }

    /** Copies a strided view (span starts at the tensor's first element) into a contiguous row-major array. */
    private static byte[] gather(TensorRef t, byte[] span, int numel, int es) {
        long[] size = t.size();
        long[] stride = t.stride();
        int nd = size.length;
        byte[] out = new byte[numel * es];
        int inner = (int) size[nd - 1];
        long innerStride = stride[nd - 1];
        long[] idx = new long[nd];
        long base = 0;
        int outPos = 0;
        for (int row = 0, rows = numel / inner; row < rows; row++) {
            if (innerStride == 1) {
                System.arraycopy(span, (int) (base * es), out, outPos, inner * es);
                outPos += inner * es;
            } else {
                for (int j = 0; j < inner; j++) {
                    System.arraycopy(span, (int) ((base + j * innerStride) * es), out, outPos, es);
                    outPos += es;
                }
            }
            for (int d = nd - 2; d >= 0; d--) {
                idx[d]++;
                base += stride[d];
                if (idx[d] < size[d]) {
                    break;
                }
                base -= stride[d] * size[d];
                idx[d] = 0;
            }
        }
        return out;
    }

    private static byte[] readEntry(ZipFile zip, ZipEntry e, long max, Path path, String what) {
        try (InputStream in = zip.getInputStream(e)) {
            byte[] b = in.readNBytes((int) Math.min(max + 1, Integer.MAX_VALUE - 8));
            if (b.length > max) {
                throw new CheckpointException("unsupported torch checkpoint " + path + ": " + what
                        + " entry is larger than " + max + " bytes");
            }
            return b;
        } catch (IOException ex) {
            throw new CheckpointException("corrupt torch checkpoint " + path + ": cannot read " + what + ": " + ex,
                    ex);
        }
    }

    private static void closeQuietly(ZipFile zip) {
        try {
            zip.close();
        } catch (IOException ignored) {
            // nothing useful to do
        }
    }

    @Override
    public Map<String, String> metadata() {
        return Map.of();
    }

    @Override
    public List<Path> files() {
        return List.of(path);
    }

    @Override
    public void close() {
        closed = true;
        closeQuietly(zip);
    }

    @Override
    public String toString() {
        return "PthFile[" + path + ", " + tensors.size() + " tensors]";
    }
}
