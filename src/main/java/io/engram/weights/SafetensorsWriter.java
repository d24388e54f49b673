package io.engram.weights;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * Writes tensors to a {@code .safetensors} file (see {@link SafetensorsFile} for the format). Tensors are laid out
 * back to back in the map's iteration order; the JSON header is padded with spaces to a multiple of 8 bytes so that
 * the data section is 8-byte aligned. The file is written to a temporary sibling and then moved into place.
 */
public final class SafetensorsWriter {

    private SafetensorsWriter() {
    }

    /**
     * Writes {@code tensors} and {@code metadata} to {@code file}, replacing it if it exists.
     *
     * @param tensors  the tensors by name, written in iteration order (the map key is the stored name)
     * @param metadata stored as {@code __metadata__}; may be null or empty
     */
    public static void write(Path file, Map<String, HostTensor> tensors, Map<String, String> metadata)
            throws IOException {
        byte[] header = header(tensors, metadata);
        Path abs = file.toAbsolutePath();
        Path tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName(), ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length);
                writeFully(ch, len.flip());
                writeFully(ch, ByteBuffer.wrap(header));
                for (HostTensor t : tensors.values()) {
                    writeFully(ch, t.data());
                }
                ch.force(true);
            }
            try {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static byte[] header(Map<String, HostTensor> tensors, Map<String, String> metadata) {
        StringBuilder json = new StringBuilder("{");
        boolean first = true;
        if (metadata != null && !metadata.isEmpty()) {
            json.append(Json.quote("__metadata__")).append(":{");
            boolean firstMeta = true;
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                if (e.getKey() == null || e.getValue() == null) {
                    throw new IllegalArgumentException("null metadata key or value");
                }
                if (!firstMeta) {
                    json.append(',');
                }
                firstMeta = false;
                json.append(Json.quote(e.getKey())).append(':').append(Json.quote(e.getValue()));
            }
            json.append('}');
            first = false;
        }
        long offset = 0;
        for (Map.Entry<String, HostTensor> e : tensors.entrySet()) {
            String name = e.getKey();
            if (name == null || name.isEmpty() || name.equals("__metadata__")) {
                throw new IllegalArgumentException("invalid tensor name '" + name + "'");
            }
            HostTensor t = e.getValue();
            long bytes = t.data().remaining();
            if (!first) {
                json.append(',');
            }
            first = false;
            json.append(Json.quote(name)).append(":{\"dtype\":").append(Json.quote(t.dtype().safetensorsName()))
                    .append(",\"shape\":[");
            long[] shape = t.shape();
            for (int i = 0; i < shape.length; i++) {
                json.append(i == 0 ? "" : ",").append(shape[i]);
            }
            json.append("],\"data_offsets\":[").append(offset).append(',').append(offset + bytes).append("]}");
            offset += bytes;
        }
        json.append('}');
        int unpadded = json.toString().getBytes(StandardCharsets.UTF_8).length;
        json.append(" ".repeat((8 - unpadded % 8) % 8));
        return json.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }
}
