package io.engram.security;

import io.engram.tenant.Tenant;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The configured API keys, held only as SHA-256 hashes. A presented key is hashed and compared with every known
 * hash in constant time ({@link MessageDigest#isEqual}), without stopping at the first match, so the time taken
 * says nothing about which key, or how much of one, was right.
 *
 * <p>Format ({@code engram.security.api-keys}, and the file {@code engram.security.api-keys-file}): {@code tenant:key}
 * pairs separated by commas or new lines; blank entries and lines starting with {@code #} are ignored. A tenant may
 * have several keys (rotation); a key belongs to one tenant.
 */
public final class ApiKeys {

    /** Tenant names: they are part of ids, logs and metric-free config keys, so plain characters only. */
    static final Pattern TENANT = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    /** Keys shorter than this are refused at start-up: they could be guessed. */
    static final int MIN_KEY_LENGTH = 16;

    /** One key: the hash of the key, its tenant, and a short non-secret label for it (for rate-limit buckets). */
    public record Entry(byte[] hash, String tenant, String label) {}

    private final List<Entry> entries;

    private ApiKeys(List<Entry> entries) {
        this.entries = List.copyOf(entries);
    }

    /** Keys from the inline value and the file (either may be empty/null). Fails with a message on bad input. */
    public static ApiKeys load(String inline, Path file) {
        StringBuilder all = new StringBuilder(inline == null ? "" : inline);
        if (file != null) {
            try {
                all.append('\n').append(Files.readString(file, StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new UncheckedIOException("engram.security.api-keys-file " + file + " cannot be read", e);
            }
        }
        return parse(all.toString());
    }

    public static ApiKeys parse(String spec) {
        List<Entry> entries = new ArrayList<>();
        Set<String> seen = new LinkedHashSet<>();
        int n = 0;
        for (String raw : spec.split("[,\\r\\n]")) {
            String pair = raw.strip();
            if (pair.isEmpty() || pair.startsWith("#")) continue;
            n++;
            int colon = pair.indexOf(':');
            if (colon < 0) {
                throw new IllegalArgumentException("engram.security.api-keys: entry " + n + " is not tenant:key");
            }
            String tenant = pair.substring(0, colon).strip();
            String key = pair.substring(colon + 1).strip();
            if (!TENANT.matcher(tenant).matches()) {
                throw new IllegalArgumentException("engram.security.api-keys: entry " + n
                        + ": the tenant name must be 1-64 of A-Z a-z 0-9 . _ -");
            }
            if (key.length() < MIN_KEY_LENGTH) {
                throw new IllegalArgumentException("engram.security.api-keys: the key of tenant '" + tenant
                        + "' (entry " + n + ") is shorter than " + MIN_KEY_LENGTH + " characters");
            }
            byte[] hash = sha256(key);
            String hex = java.util.HexFormat.of().formatHex(hash);
            if (!seen.add(hex)) {
                throw new IllegalArgumentException("engram.security.api-keys: entry " + n + " (tenant '" + tenant
                        + "') repeats a key already given; every key must be distinct");
            }
            entries.add(new Entry(hash, tenant, tenant + "#" + hex.substring(0, 8)));
        }
        return new ApiKeys(entries);
    }

    /** Authentication is on when at least one key is configured. */
    public boolean enabled() {
        return !entries.isEmpty();
    }

    public List<Entry> entries() {
        return Collections.unmodifiableList(entries);
    }

    /** The entry whose key was presented, or null. Constant time in the key's content. */
    public Entry match(String presented) {
        if (presented == null) return null;
        byte[] h = sha256(presented);
        Entry found = null;
        for (Entry e : entries) {
            if (MessageDigest.isEqual(e.hash(), h) && found == null) found = e;
        }
        return found;
    }

    static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
