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
 *       the normalised weights, in request order;</li>
 *   <li>imported: {@code sha256(blob)}.</li>
 * </ul>
 * With authentication on, each id is salted by the tenant: the same hash with another domain tag and the tenant's
 * name first, {@code "engram/tenant-prime/v1" 0 tenant 0 ...}, {@code "engram/tenant-combine/v1" 0 tenant 0 ...},
 * {@code sha256("engram/tenant-import/v1" 0 tenant 0 blob)}. A tenant {@code salt} of null gives the unsalted ids
 * above (authentication off: tenant {@code default}, today's ids). Tenant names never hold a 0 byte, so a salted id
 * can never equal another tenant's or an unsalted one short of a SHA-256 collision.
 */
public final class StateIds {

    private static final Pattern ID = Pattern.compile("[0-9a-f]{64}");

    private StateIds() {}

    public static boolean isValid(String id) {
        return id != null && ID.matcher(id).matches();
    }

    public static String primed(String fingerprint, String parentId, int[] tokens) {
        return primed(null, fingerprint, parentId, tokens);
    }

    /** @param salt the tenant's name, or null for an unsalted id */
    public static String primed(String salt, String fingerprint, String parentId, int[] tokens) {
        MessageDigest md = sha256();
        domain(md, salt, "prime");
        field(md, fingerprint);
        field(md, parentId == null ? "" : parentId);
        ByteBuffer b = ByteBuffer.allocate(4 * tokens.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int t : tokens) b.putInt(t);
        md.update(b.array());
        return HexFormat.of().formatHex(md.digest());
    }

    public static String combined(String fingerprint, String[] ids, double[] normalisedWeights) {
        return combined(null, fingerprint, ids, normalisedWeights);
    }

    /** @param salt the tenant's name, or null for an unsalted id */
    public static String combined(String salt, String fingerprint, String[] ids, double[] normalisedWeights) {
        MessageDigest md = sha256();
        domain(md, salt, "combine");
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

    /** The id of an imported blob: {@link #ofBytes} unsalted, else salted by the importing tenant. */
    public static String imported(String salt, byte[] blob) {
        if (salt == null) return ofBytes(blob);
        MessageDigest md = sha256();
        domain(md, salt, "import");
        return HexFormat.of().formatHex(md.digest(blob));
    }

    private static void domain(MessageDigest md, String salt, String what) {
        if (salt == null) {
            field(md, "engram/" + what + "/v1");
        } else {
            field(md, "engram/tenant-" + what + "/v1");
            field(md, salt);
        }
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
