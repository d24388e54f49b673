package io.engram.weights;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/** Builds pickles opcode by opcode and wraps them into torch.save-style zips, for tests. */
final class TorchZips {

    private TorchZips() {
    }

    /** An opcode-level pickle writer. */
    static final class Pickle {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Pickle op(int... bytes) {
            for (int b : bytes) {
                out.write(b);
            }
            return this;
        }

        Pickle ascii(String s) {
            out.writeBytes(s.getBytes(StandardCharsets.US_ASCII));
            return this;
        }

        /** GLOBAL 'module name'. */
        Pickle global(String module, String name) {
            return op('c').ascii(module + "\n" + name + "\n");
        }

        /** BINUNICODE. */
        Pickle str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            op('X');
            le32(b.length);
            out.writeBytes(b);
            return this;
        }

        /** BININT. */
        Pickle integer(long v) {
            op('J');
            return le32((int) v);
        }

        Pickle le32(int v) {
            return op(v & 0xFF, (v >>> 8) & 0xFF, (v >>> 16) & 0xFF, (v >>> 24) & 0xFF);
        }

        Pickle intTuple(long... values) {
            op('(');
            for (long v : values) {
                integer(v);
            }
            return op('t');
        }

        /** {@code _rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset, size, stride, False, OrderedDict())}. */
        Pickle tensor(String storageType, String key, long numel, long offset, long[] size, long[] stride) {
            global("torch._utils", "_rebuild_tensor_v2");
            op('(');
            op('(').str("storage").global("torch", storageType).str(key).str("cpu").integer(numel).op('t');
            op('Q');
            integer(offset).intTuple(size).intTuple(stride).op(0x89);
            global("collections", "OrderedDict").op(')', 'R');
            return op('t', 'R');
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }

    /** Writes {@code <stem>/data.pkl}, {@code <stem>/data/<key>} and {@code <stem>/version} (stored, like torch). */
    static Path write(Path file, String stem, byte[] pickle, Map<String, byte[]> storages) throws IOException {
        try (OutputStream fos = Files.newOutputStream(file); ZipOutputStream zip = new ZipOutputStream(fos)) {
            stored(zip, stem + "/data.pkl", pickle);
            for (Map.Entry<String, byte[]> e : storages.entrySet()) {
                stored(zip, stem + "/data/" + e.getKey(), e.getValue());
            }
            stored(zip, stem + "/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        }
        return file;
    }

    private static void stored(ZipOutputStream zip, String name, byte[] data) throws IOException {
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED);
        e.setSize(data.length);
        CRC32 crc = new CRC32();
        crc.update(data);
        e.setCrc(crc.getValue());
        zip.putNextEntry(e);
        zip.write(data);
        zip.closeEntry();
    }

    static byte[] floatsLE(float... values) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(values.length * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return b.array();
    }
}
