package io.engram.state;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * Content-addressed state ids: 64 lowercase hex characters of a SHA-256.
 * <ul>
 *   <li>primed: {@code sha256("engram/prime/v1" 0 fingerprint 0 parent-id-or-empty 0 tokens as int32 LE)}, so
 *       the same document on the same model always gets the same id, on any replica;</li>
 *   <li>combined: {@code sha256("engram/combine/v1" 0 fingerprint 0 (id 0 weight as IEEE-754 double LE)...)} over
 *       the normalised weights, in request order.</li>
 * </ul>
 */
public final class StateIds {

    private static final Pattern ID = Pattern.compile("[0-9a-f]{64}");

    private StateIds() {}

    public static boolean isValid(String id) {
        return id != null && ID.matcher(id).matches();
    }

    public static String primed(String fingerprint, String parentId, int[] tokens) {
        MessageDigest md = sha256();
        field(md, "engram/prime/v1");
        field(md, fingerprint);
        field(md, parentId == null ? "" : parentId);
        ByteBuffer b = ByteBuffer.allocate(4 * tokens.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int t : tokens) b.putInt(t);
        md.update(b.array());
        return HexFormat.of().formatHex(md.digest());
    }

    public static String combined(String fingerprint, String[] ids, double[] normalisedWeights) {
        MessageDigest md = sha256();
        field(md, "engram/combine/v1");
        field(md, fingerprint);
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < ids.length; i++) {
            field(md, ids[i]);
            b.clear();
            b.putDouble(normalisedWeights[i]);
            md.update(b.array());
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** SHA-256 of raw bytes, as an id (used for imported blobs). */
    public static String ofBytes(byte[] blob) {
        return HexFormat.of().formatHex(sha256().digest(blob));
    }

    private static void field(MessageDigest md, String s) {
        md.update(s.getBytes(StandardCharsets.UTF_8));
        md.update((byte) 0);
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
