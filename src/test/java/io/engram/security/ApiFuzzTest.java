package io.engram.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.engram.testsupport.Http;
import io.engram.testsupport.OracleModelDir;
import io.engram.testsupport.TestApp;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Fuzzing of every endpoint over real HTTP: thousands of valid requests mutated at random (wrong types, huge and
 * malformed numbers, deep nesting, odd unicode, nulls, missing and unknown fields, truncated or garbled text, wrong
 * content types and Accept headers, bad keys) and random or mutated binary blobs. However bad the input, the server
 * must answer below 500, with a problem-details body free of internals for every 4xx, within a timeout, and must
 * still serve afterwards.
 *
 * <p>A seeded loop (reproducible: {@code -Dengram.fuzz.seed=N}, more with {@code -Dengram.fuzz.iterations=N} and
 * {@code -Dengram.fuzz.seconds=N}). Not jqwik: jqwik 1.10 prints a request that AI agents not use it, and this test
 * was written by one.
 */
class ApiFuzzTest {

    static final String KEY = "fuzz-key-0123456789abcdef";
    static final long SEED = Long.getLong("engram.fuzz.seed", 20261129L);
    static final int ITERATIONS = Integer.getInteger("engram.fuzz.iterations", 2000);
    /** A bound on the run's time on a slow or busy machine: it stops early (but not before MIN_REQUESTS). */
    static final Duration BUDGET = Duration.ofSeconds(Long.getLong("engram.fuzz.seconds", 45));
    static final int MIN_REQUESTS = 1000;
    static final Duration TIMEOUT = Duration.ofSeconds(30);

    static TestApp app;
    static Http http;
    static HttpClient client;
    static String s1, s2;
    static byte[] blob;

    @BeforeAll
    static void start() throws Exception {
        Path models = Files.createTempDirectory("engram-fuzz-test");
        OracleModelDir.create(models, "tiny");
        app = TestApp.start(models, "engram.security.api-keys=fuzz:" + KEY,
                "engram.security.rate-limit.requests-per-second=0", "engram.security.rate-limit.tokens-per-minute=0",
                "engram.security.access-log=false",
                "engram.limits.max-tokens=4", "engram.limits.max-document-tokens=128",
                "engram.limits.max-body-bytes=262144", "logging.level.io.engram.api.ProblemHandler=ERROR");
        http = app.http().withKey(KEY);
        client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        s1 = http.post("/v1/states", Map.of("text", "The first document.")).json().get("id").asText();
        s2 = http.post("/v1/states", Map.of("tokens", new int[] {1, 2, 3, 4, 5})).json().get("id").asText();
        blob = http.getBytes("/v1/states/" + s1 + "/blob").body();
    }

    @AfterAll
    static void stop() {
        if (app != null) app.close();
    }

    /** A raw JSON text, written as is (for values a JSON library would refuse to write: NaN, 1e999, bad escapes). */
    record Raw(String json) {}

    record Endpoint(String path, Map<String, Object> template) {}

    static List<Endpoint> endpoints() {
        List<Endpoint> e = new ArrayList<>();
        e.add(new Endpoint("/v1/tokenize", obj("model", "tiny", "text", "Hello, world")));
        e.add(new Endpoint("/v1/detokenize", obj("model", "tiny", "tokens", List.of(72, 105, 195, 169))));
        e.add(new Endpoint("/v1/states", obj("model", "tiny", "text", "A small document", "ttl_seconds", 600)));
        e.add(new Endpoint("/v1/states", obj("tokens", List.of(1, 2, 3), "parent", s1)));
        e.add(new Endpoint("/v1/states/batch", obj("model", "tiny", "ttl_seconds", 60, "documents",
                List.of(obj("text", "a"), obj("tokens", List.of(9, 8), "parent", s2), obj("text", "b", "model", "tiny")))));
        e.add(new Endpoint("/v1/states/combine", obj("states", List.of(obj("id", s1, "weight", 0.25),
                obj("id", s2, "weight", 0.75)), "ttl_seconds", 60)));
        Map<String, Object> gen = obj("model", "tiny", "states", List.of(obj("id", s1, "weight", 1.0)), "prompt", "Q: why?",
                "max_tokens", 3, "temperature", 0.7, "top_p", 0.9, "top_k", 5, "min_p", 0.01, "presence_penalty", 0.1,
                "frequency_penalty", 0.1, "stop", List.of("\n\n"), "seed", 42, "logprobs", 2, "stream", false,
                "save_state", false);
        e.add(new Endpoint("/v1/generate", gen));
        Map<String, Object> stream = new LinkedHashMap<>(gen);
        stream.put("stream", true);
        stream.put("save_state", true);
        stream.remove("prompt");
        stream.put("prompt_tokens", List.of(5, 6));
        e.add(new Endpoint("/v1/generate", stream));
        e.add(new Endpoint("/v1/completions", obj("model", "tiny", "prompt", "Once", "max_tokens", 3, "temperature", 0,
                "stop", "x", "n", 1, "stream", false, "states", List.of(obj("id", s2)), "top_k", 3, "seed", 1)));
        e.add(new Endpoint("/v1/completions", obj("prompt", List.of(1, 2, 3), "max_tokens", 2, "stream", true,
                "stream_options", obj("include_usage", true))));
        e.add(new Endpoint("/v1/chat/completions", obj("model", "tiny", "messages", List.of(obj("role", "system", "content", "Be brief."),
                obj("role", "user", "content", List.of(obj("type", "text", "text", "hi")))), "max_tokens", 3, "stream", false,
                "logprobs", true, "top_logprobs", 2, "states", List.of(obj("id", s1, "weight", 2)))));
        e.add(new Endpoint("/v1/chat/completions", obj("messages", List.of(obj("role", "user", "content", "hi")),
                "max_completion_tokens", 2, "stream", true, "stream_options", obj("include_usage", true))));
        return e;
    }

    // ------------------------------------------------------------------------------------------------ the run

    final Map<String, Integer> statuses = new TreeMap<>();
    final List<String> failures = new ArrayList<>();
    final Map<String, double[]> timing = new TreeMap<>();

    @Test
    void randomAndMutatedRequestsNeverGetA5xxNorHangAndTheServerKeepsServing() throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED);
        List<Endpoint> endpoints = endpoints();
        long t0 = System.nanoTime();
        int i = 0;
        for (; i < ITERATIONS && failures.size() < 10; i++) {
            if (i >= MIN_REQUESTS && System.nanoTime() - t0 > BUDGET.toNanos()) break;
            int kind = rnd.nextInt(100);
            if (kind < 70) {
                Endpoint e = endpoints.get(rnd.nextInt(endpoints.size()));
                String body = mutateText(write(mutate(copy(e.template()), rnd, 0)), rnd);
                send(i, jsonPost(e.path(), body, rnd));
            } else if (kind < 78) {
                send(i, importBlob(rnd));
            } else if (kind < 88) {
                send(i, stateVerb(rnd));
            } else if (kind < 94) {
                // random bytes as a JSON body to any JSON endpoint
                Endpoint e = endpoints.get(rnd.nextInt(endpoints.size()));
                byte[] junk = new byte[rnd.nextInt(600)];
                rnd.nextBytes(junk);
                send(i, auth(HttpRequest.newBuilder(http.uri(e.path())), rnd).header("content-type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofByteArray(junk)));
            } else {
                send(i, oddRequest(rnd, endpoints));
            }
        }
        double s = (System.nanoTime() - t0) / 1e9;
        timing.entrySet().stream().sorted((a, b) -> Double.compare(b.getValue()[1], a.getValue()[1]))
                .limit(5).forEach(e -> System.out.printf("fuzz time: %s n=%d total=%.0f ms%n", e.getKey(),
                        (long) e.getValue()[0], e.getValue()[1]));
        System.out.printf("fuzz: seed %d, %d requests in %.1f s, statuses %s%n", SEED, i, s, statuses);
        if (!failures.isEmpty()) fail(failures.size() + " bad answers (seed " + SEED + "):\n" + String.join("\n", failures));
        // still serving, and still correct
        assertEquals(200, http.get("/v1/models").status());
        assertEquals(200, http.get("/v1/states/" + s1).status());
        assertEquals(200, http.post("/v1/generate", Map.of("states", List.of(Map.of("id", s1)), "prompt", "x",
                "max_tokens", 2, "temperature", 0)).status());
        assertTrue(statuses.keySet().stream().anyMatch(k -> k.startsWith("2")), "some requests must succeed: " + statuses);
        assertTrue(statuses.keySet().stream().anyMatch(k -> k.startsWith("4")), "most mutations must be refused: " + statuses);
    }

    private void send(int i, HttpRequest.Builder b) {
        HttpRequest r = b.timeout(TIMEOUT).build();
        HttpResponse<String> res;
        long t0 = System.nanoTime();
        try {
            res = client.send(r, HttpResponse.BodyHandlers.ofString());
            timing.merge(r.method() + " " + r.uri().getPath().replaceAll("[0-9a-f]{64}", "{id}") + " " + res.statusCode(),
                    new double[] {1, (System.nanoTime() - t0) / 1e6}, (x, y) -> new double[] {x[0] + y[0], x[1] + y[1]});
        } catch (HttpTimeoutException e) {
            failures.add("#" + i + " " + r.method() + " " + r.uri() + ": no answer within " + TIMEOUT.toSeconds() + " s");
            return;
        } catch (Exception e) {
            failures.add("#" + i + " " + r.method() + " " + r.uri() + ": " + e);
            return;
        }
        int status = res.statusCode();
        statuses.merge(String.valueOf(status), 1, Integer::sum);
        String body = res.body();
        String ct = res.headers().firstValue("content-type").orElse("");
        String what = "#" + i + " " + r.method() + " " + r.uri().getPath() + " -> " + status + " " + cut(body, 300);
        if (status >= 500) {
            failures.add(what + " <- " + cut(bodyOf(r), 300) + " " + r.headers().map());
        } else if (status >= 400) {
            if (r.method().equals("HEAD")) {
                // no body by definition
            } else if (!ct.startsWith("application/problem+json")) {
                failures.add(what + " (content-type " + ct + ")");
            } else if (!body.contains("\"type\"") || !body.contains("\"detail\"")) {
                failures.add(what + " (not a problem)");
            }
        }
        for (String leak : List.of("Exception", "\tat ", "io.engram.", "tools.jackson.", "org.springframework", "/tmp/")) {
            if (body.contains(leak)) failures.add(what + " (leaks '" + leak + "')");
        }
        if (body.contains("problems/internal")) failures.add(what + " (internal error in a stream)");
    }

    /** The request body as text (the publishers here are replayable). */
    private static String bodyOf(HttpRequest r) {
        var pub = r.bodyPublisher().orElse(null);
        if (pub == null) return "";
        var out = new java.io.ByteArrayOutputStream();
        var done = new java.util.concurrent.CompletableFuture<Void>();
        pub.subscribe(new java.util.concurrent.Flow.Subscriber<ByteBuffer>() {
            @Override
            public void onSubscribe(java.util.concurrent.Flow.Subscription s) {
                s.request(Long.MAX_VALUE);
            }

            @Override
            public void onNext(ByteBuffer b) {
                byte[] a = new byte[b.remaining()];
                b.get(a);
                out.writeBytes(a);
            }

            @Override
            public void onError(Throwable t) {
                done.complete(null);
            }

            @Override
            public void onComplete() {
                done.complete(null);
            }
        });
        try {
            done.get(5, java.util.concurrent.TimeUnit.SECONDS);
        } catch (Exception e) {
            return "(body unavailable)";
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static String cut(String s, int n) {
        return s.length() <= n ? s : s.substring(0, n) + "...";
    }

    private static HttpRequest.Builder auth(HttpRequest.Builder b, SplittableRandom rnd) {
        int k = rnd.nextInt(100);
        if (k < 94) return b.header("authorization", "Bearer " + KEY);
        if (k < 96) return b; // none
        if (k < 98) return b.header("authorization", "Bearer " + randomAscii(rnd, rnd.nextInt(80)));
        return b.header("authorization", randomAscii(rnd, rnd.nextInt(80)));
    }

    private HttpRequest.Builder jsonPost(String path, String body, SplittableRandom rnd) {
        HttpRequest.Builder b = auth(HttpRequest.newBuilder(http.uri(path)), rnd);
        int ct = rnd.nextInt(100);
        if (ct < 90) b.header("content-type", "application/json");
        else if (ct < 93) b.header("content-type", "text/plain");
        else if (ct < 95) b.header("content-type", "application/json; charset=utf-16");
        else if (ct < 97) b.header("content-type", "application/x-www-form-urlencoded");
        else if (ct < 98) b.header("content-type", "multipart/form-data; boundary=x");
        int acc = rnd.nextInt(100);
        if (acc < 4) b.header("accept", pick(rnd, "text/html", "image/png", "application/xml", "text/event-stream", "*/*;q=0", "garbage"));
        return b.POST(HttpRequest.BodyPublishers.ofString(body));
    }

    private HttpRequest.Builder importBlob(SplittableRandom rnd) {
        byte[] b;
        int k = rnd.nextInt(5);
        if (k == 0) {
            b = new byte[rnd.nextInt(4096)];
            rnd.nextBytes(b);
        } else {
            b = blob.clone();
            int flips = 1 + rnd.nextInt(4);
            for (int j = 0; j < flips; j++) {
                int pos = rnd.nextInt(b.length);
                switch (rnd.nextInt(4)) {
                    case 0 -> b[pos] ^= (byte) (1 << rnd.nextInt(8));
                    case 1 -> b[pos] = (byte) rnd.nextInt(256);
                    case 2 -> b = Arrays.copyOf(b, pos);
                    default -> {
                        byte[] longer = Arrays.copyOf(b, b.length + 1 + rnd.nextInt(64));
                        b = longer;
                    }
                }
                if (b.length == 0) break;
            }
            // a correct checksum half the time, so the parser behind it is reached
            if (k >= 3 && b.length >= 4) {
                CRC32C crc = new CRC32C();
                crc.update(b, 0, b.length - 4);
                ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(b.length - 4, (int) crc.getValue());
            }
        }
        String q = rnd.nextInt(5) == 0 ? "?ttl_seconds=" + pick(rnd, "-1", "0", "abc", "99999999999999999999", "1e3", "60") : "";
        return auth(HttpRequest.newBuilder(http.uri("/v1/states/import" + q)), rnd)
                .header("content-type", pick(rnd, "application/octet-stream", "application/json", "text/plain"))
                .POST(HttpRequest.BodyPublishers.ofByteArray(b));
    }

    private HttpRequest.Builder stateVerb(SplittableRandom rnd) {
        String id = switch (rnd.nextInt(8)) {
            case 0 -> s1;
            case 1 -> s2;
            case 2 -> randomHex(rnd, 64);
            case 3 -> randomHex(rnd, rnd.nextInt(130));
            case 4 -> s1.toUpperCase();
            case 5 -> pick(rnd, "..", ".", "%2e%2e", "..%2f..%2fetc%2fpasswd", "%00", "%ZZ", "a%2Fb", "%C0%AE", ";x=1", "%uD800");
            default -> URLEncoder.encode(randomString(rnd, rnd.nextInt(100)), StandardCharsets.UTF_8);
        };
        String suffix = rnd.nextInt(4) == 0 ? "/blob" : "";
        HttpRequest.Builder b;
        try {
            b = auth(HttpRequest.newBuilder(http.uri("/v1/states/" + id + suffix)), rnd);
        } catch (IllegalArgumentException e) {
            b = auth(HttpRequest.newBuilder(http.uri("/v1/states/" + randomHex(rnd, 10))), rnd);
        }
        // deleting the two fixed states would starve the other requests: only unknown ids are deleted
        if (rnd.nextInt(5) == 0 && !id.equals(s1) && !id.equals(s2)) return b.DELETE();
        return b.GET();
    }

    private HttpRequest.Builder oddRequest(SplittableRandom rnd, List<Endpoint> endpoints) {
        String path = pick(rnd, "/v1/models", "/v1/states", "/v1/generate", "/v1/nope", "/", "/error", "/v1/",
                "/actuator/health", "/actuator/prometheus", "/v1/states/combine/x", "/v1//models", "/v1/models/..",
                "/v1/%2e%2e/models", "/V1/MODELS");
        String method = pick(rnd, "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE");
        HttpRequest.Builder b;
        try {
            b = auth(HttpRequest.newBuilder(http.uri(path)), rnd);
        } catch (IllegalArgumentException e) {
            b = auth(HttpRequest.newBuilder(http.uri("/v1/models")), rnd);
        }
        if (rnd.nextBoolean()) b.header("content-type", "application/json");
        if (rnd.nextInt(3) == 0) b.header("origin", "https://evil.example");
        String body = rnd.nextBoolean() ? write(mutate(copy(endpoints.get(rnd.nextInt(endpoints.size())).template()), rnd, 0)) : "";
        return b.method(method, method.equals("GET") || method.equals("HEAD") || method.equals("TRACE")
                ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    }

    // ------------------------------------------------------------------------------------------------ mutations

    /** Applies 0-3 structural mutations to a JSON value (objects and arrays recursively). */
    @SuppressWarnings("unchecked")
    private Object mutate(Object v, SplittableRandom rnd, int depth) {
        int n = rnd.nextInt(4);
        for (int m = 0; m < n; m++) {
            if (v instanceof Map<?, ?> map0 && !map0.isEmpty()) {
                Map<String, Object> map = (Map<String, Object>) v;
                List<String> keys = new ArrayList<>(map.keySet());
                String key = keys.get(rnd.nextInt(keys.size()));
                switch (rnd.nextInt(6)) {
                    case 0 -> map.remove(key);
                    case 1 -> map.put(key, randomValue(rnd, 0));
                    case 2 -> map.put(key, mutate(map.get(key), rnd, depth + 1));
                    case 3 -> map.put(pick(rnd, randomString(rnd, 8), "model", "stream", "states", "parent", "tokens", "__proto__",
                            key.toUpperCase(), ""), randomValue(rnd, 0));
                    case 4 -> map.put(key, null);
                    default -> map.put(key, mutate(map.get(key), rnd, depth + 1));
                }
            } else if (v instanceof List<?> list0) {
                List<Object> list = (List<Object>) v;
                switch (rnd.nextInt(5)) {
                    case 0 -> { if (!list.isEmpty()) list.remove(rnd.nextInt(list.size())); }
                    case 1 -> list.add(randomValue(rnd, 0));
                    case 2 -> { if (!list.isEmpty()) { int j = rnd.nextInt(list.size()); list.set(j, mutate(list.get(j), rnd, depth + 1)); } }
                    case 3 -> { for (int k = rnd.nextInt(100); k > 0 && !list.isEmpty(); k--) list.add(list.get(0)); }
                    default -> list.clear();
                }
            } else if (depth > 0 || rnd.nextInt(10) == 0) {
                return randomValue(rnd, 0);
            }
        }
        if (depth == 0 && rnd.nextInt(40) == 0) return randomValue(rnd, 0); // a whole other body
        if (depth == 0 && rnd.nextInt(60) == 0) return List.of(v); // the body wrapped in an array
        return v;
    }

    /** Truncation, garbage and the like on the JSON text itself, now and then. */
    private static String mutateText(String s, SplittableRandom rnd) {
        if (s.isEmpty() || rnd.nextInt(100) >= 12) return s;
        int pos = rnd.nextInt(s.length());
        return switch (rnd.nextInt(7)) {
            case 0 -> s.substring(0, pos);
            case 1 -> s.substring(0, pos) + (char) rnd.nextInt(0x20, 0x7f) + s.substring(pos);
            case 2 -> s.substring(0, pos) + s.substring(Math.min(s.length(), pos + 1 + rnd.nextInt(5)));
            case 3 -> s.replace("\"", "'");
            case 4 -> s + s;
            case 5 -> "\uFEFF" + s;
            default -> s.substring(0, pos) + pick(rnd, "\\u", "\\ud800", "\\x00", "\u0000", "/*", "//", "NaN", ",,", "}") + s.substring(pos);
        };
    }

    private static Object randomValue(SplittableRandom rnd, int depth) {
        int k = rnd.nextInt(depth > 3 ? 9 : 12);
        return switch (k) {
            case 0 -> null;
            case 1 -> rnd.nextBoolean();
            case 2 -> pick(rnd, 0, -1, 1, 255, 256, 65535, 65536, Integer.MAX_VALUE, Integer.MIN_VALUE, Long.MAX_VALUE, Long.MIN_VALUE);
            case 3 -> pick(rnd, 0.0, -0.0, 0.5, -1.5, 1e-320, 1e308, -1e308, 3.0000000000000004, Double.MIN_VALUE);
            case 4 -> new Raw(pick(rnd, "1e999", "-1e999", "NaN", "Infinity", "-Infinity", "1" + "0".repeat(40), "0x10", "01",
                    "1.", ".5", "+1", "1e", "--1", "9".repeat(70), "1e-99999", "123456789012345678901234567890", "true1", "nul"));
            case 5 -> randomString(rnd, rnd.nextInt(rnd.nextInt(20) == 0 ? 20000 : 40));
            case 6 -> new Raw(pick(rnd, "\"\\ud800\"", "\"\\udfff\\ud800\"", "\"\\u0000\"", "\"\\uZZZZ\"", "\"\\q\"", "\"\t\"",
                    "\"\u2028\"", "\"" + "\\\\".repeat(50) + "\"", "\"\u00e9\u0301\uFFFF\uFFFE\""));
            case 7 -> randomHex(rnd, 64);
            case 8 -> new Raw("[".repeat(rnd.nextInt(10, 80)) + "]".repeat(0)); // unterminated deep array
            case 9 -> { // deep nesting
                int d = rnd.nextInt(5, 120);
                yield new Raw("[".repeat(d) + "1" + "]".repeat(d));
            }
            case 10 -> {
                List<Object> l = new ArrayList<>();
                for (int j = rnd.nextInt(6); j > 0; j--) l.add(randomValue(rnd, depth + 1));
                yield l;
            }
            default -> {
                Map<String, Object> m = new LinkedHashMap<>();
                for (int j = rnd.nextInt(5); j > 0; j--) m.put(pick(rnd, "id", "weight", "text", "role", "content", "type",
                        randomString(rnd, 5)), randomValue(rnd, depth + 1));
                yield m;
            }
        };
    }

    private static String randomString(SplittableRandom rnd, int n) {
        StringBuilder b = new StringBuilder(n);
        for (int i = 0; i < n; i++) {
            int k = rnd.nextInt(10);
            if (k < 5) b.append((char) rnd.nextInt(0x20, 0x7f));
            else if (k < 7) b.appendCodePoint(rnd.nextInt(0xa0, 0x3000));
            else if (k < 8) b.appendCodePoint(rnd.nextInt(0x1F300, 0x1FAFF));
            else if (k < 9) b.append(pick(rnd, "\n", "\r", "\t", "\u0000", "\u200b", "\uFEFF", "\u202e", "\\", "\""));
            else b.append((char) rnd.nextInt(0xD800, 0xE000)); // lone surrogates
        }
        return b.toString();
    }

    private static String randomAscii(SplittableRandom rnd, int n) {
        StringBuilder b = new StringBuilder(n);
        for (int i = 0; i < n; i++) b.append((char) rnd.nextInt(0x21, 0x7f));
        return b.toString();
    }

    private static String randomHex(SplittableRandom rnd, int n) {
        StringBuilder b = new StringBuilder(n);
        for (int i = 0; i < n; i++) b.append("0123456789abcdef".charAt(rnd.nextInt(16)));
        return b.toString();
    }

    @SafeVarargs
    private static <T> T pick(SplittableRandom rnd, T... options) {
        return options[rnd.nextInt(options.length)];
    }

    // ------------------------------------------------------------------------------------------------ JSON text

    private static Map<String, Object> obj(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    @SuppressWarnings("unchecked")
    private static Object copy(Object v) {
        if (v instanceof Map<?, ?> m) {
            Map<String, Object> c = new LinkedHashMap<>();
            ((Map<String, Object>) m).forEach((k, x) -> c.put(k, copy(x)));
            return c;
        }
        if (v instanceof List<?> l) {
            List<Object> c = new ArrayList<>();
            for (Object x : l) c.add(copy(x));
            return c;
        }
        return v;
    }

    /** JSON text, with {@link Raw} values written verbatim and strings escaped minimally (lone surrogates kept). */
    static String write(Object v) {
        StringBuilder b = new StringBuilder();
        write(b, v);
        return b.toString();
    }

    private static void write(StringBuilder b, Object v) {
        if (v == null) b.append("null");
        else if (v instanceof Raw r) b.append(r.json());
        else if (v instanceof String s) {
            b.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                if (c == '"' || c == '\\') b.append('\\').append(c);
                else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
                else if (Character.isSurrogate(c)) b.append(String.format("\\u%04x", (int) c));
                else b.append(c);
            }
            b.append('"');
        } else if (v instanceof Map<?, ?> m) {
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!first) b.append(',');
                first = false;
                write(b, String.valueOf(e.getKey()));
                b.append(':');
                write(b, e.getValue());
            }
            b.append('}');
        } else if (v instanceof List<?> l) {
            b.append('[');
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) b.append(',');
                write(b, l.get(i));
            }
            b.append(']');
        } else if (v instanceof Double d) {
            b.append(d.isNaN() || d.isInfinite() ? "0" : d.toString());
        } else {
            b.append(v);
        }
    }
}
