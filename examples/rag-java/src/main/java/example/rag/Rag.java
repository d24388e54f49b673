package example.rag;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Retrieval-augmented answers from Engram memory states, with nothing but the JDK.
 *
 * <ol>
 *   <li>Every {@code *.txt} file of the folder is primed once through {@code POST /v1/states/batch}. The state ids
 *       are kept in a JSON cache keyed by the sha256 of each file's content, so a file is primed again only when it
 *       changes (or when the server no longer has its state).</li>
 *   <li>The files to answer from are picked by IDF-weighted word overlap with the question (or named with
 *       {@code --files}).</li>
 *   <li>The question is asked through the OpenAI-compatible {@code /v1/chat/completions} with Engram's extra field
 *       {@code states} (and {@code compose} when it is not the default {@code mean}), and the answer is streamed to
 *       the terminal as it is generated.</li>
 * </ol>
 */
public final class Rag {

    static final String USAGE = """
            usage: java -jar target/rag.jar --docs DIR --question TEXT [options]
              --server URL        Engram base URL (default http://localhost:8080, or $ENGRAM_URL)
              --api-key KEY       sent as Authorization: Bearer KEY (default $ENGRAM_API_KEY; none when unset)
              --model ID          model to answer with (default: the model the states were primed with)
              --top K             answer from the K best-matching files (default 1)
              --files a.txt,b.txt answer from these files instead of picking
              --compose MODE      how several states are composed: mean (default; not sent), or a mode the server
                                  offers (posterior_mean, mixture: see the server's API contract)
              --max-tokens N      (default 16)
              --cache FILE        state-id cache (default DIR/.engram-states.json)
            """;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final String server;
    private final String apiKey;
    private final PrintStream out;
    private final PrintStream log;

    Rag(String server, String apiKey, PrintStream out, PrintStream log) {
        this.server = server.replaceAll("/+$", "");
        this.apiKey = apiKey;
        this.out = out;
        this.log = log;
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int k = 0; k < args.length; k++) {
            if (!args[k].startsWith("--") || k + 1 >= args.length) {
                System.err.print(USAGE);
                System.exit(2);
            }
            a.put(args[k].substring(2), args[++k]);
        }
        if (!a.containsKey("docs") || !a.containsKey("question")) {
            System.err.print(USAGE);
            System.exit(2);
        }
        Path docs = Path.of(a.get("docs"));
        String server = a.getOrDefault("server", System.getenv().getOrDefault("ENGRAM_URL", "http://localhost:8080"));
        Rag rag = new Rag(server, a.getOrDefault("api-key", System.getenv("ENGRAM_API_KEY")), System.out, System.err);
        try {
            Map<String, String> ids = rag.prime(docs, Path.of(a.getOrDefault("cache", docs.resolve(".engram-states.json").toString())));
            List<String> chosen = a.containsKey("files")
                    ? List.of(a.get("files").split(","))
                    : pick(read(docs), a.get("question"), Integer.parseInt(a.getOrDefault("top", "1")));
            List<String> states = new ArrayList<>();
            for (String f : chosen) {
                String id = ids.get(f.strip());
                if (id == null) throw new Failure("no such file in " + docs + ": " + f);
                states.add(id);
            }
            rag.log.println("answering from " + String.join(", ", chosen));
            rag.answer(states, a.get("question"), a.get("model"), a.getOrDefault("compose", "mean"),
                    Integer.parseInt(a.getOrDefault("max-tokens", "16")));
        } catch (Failure f) {
            System.err.println("error: " + f.getMessage());
            System.exit(1);
        }
    }

    /** A problem the user can fix (the server's problem detail, a missing file): printed without a stack trace. */
    static final class Failure extends Exception {
        Failure(String message) {
            super(message);
        }
    }

    // ---------------------------------------------------------------------------------------------------- priming

    /** The folder's {@code *.txt} files, by name. */
    static Map<String, String> read(Path docs) throws IOException {
        Map<String, String> texts = new LinkedHashMap<>();
        try (Stream<Path> files = Files.list(docs)) {
            for (Path p : files.filter(p -> p.toString().endsWith(".txt")).sorted().toList()) {
                texts.put(p.getFileName().toString(), Files.readString(p, StandardCharsets.UTF_8));
            }
        }
        return texts;
    }

    /**
     * Primes the files whose content the cache does not know (or whose state the server lost) in one batch, and
     * returns every file's state id by file name. The cache maps sha256(content) to the state id and the server.
     */
    @SuppressWarnings("unchecked")
    Map<String, String> prime(Path docs, Path cacheFile) throws IOException, InterruptedException, Failure {
        Map<String, String> texts = read(docs);
        Map<String, Object> cache = Files.exists(cacheFile) ? Json.object(Files.readString(cacheFile)) : new LinkedHashMap<>();
        Map<String, String> ids = new LinkedHashMap<>();
        List<String> toPrime = new ArrayList<>();
        for (Map.Entry<String, String> f : texts.entrySet()) {
            Map<String, Object> hit = (Map<String, Object>) cache.get(sha256(f.getValue()));
            if (hit != null && server.equals(hit.get("server")) && send("GET", "/v1/states/" + hit.get("id"), null).statusCode() == 200) {
                ids.put(f.getKey(), (String) hit.get("id"));
            } else {
                toPrime.add(f.getKey());
            }
        }
        if (!toPrime.isEmpty()) {
            List<Object> documents = new ArrayList<>();
            for (String f : toPrime) documents.add(Map.of("text", texts.get(f)));
            Map<String, Object> r = ok(send("POST", "/v1/states/batch", Map.of("documents", documents)));
            List<Object> results = (List<Object>) r.get("results");
            for (int k = 0; k < toPrime.size(); k++) {
                Map<String, Object> m = (Map<String, Object>) results.get(k);
                if (m.get("id") == null) throw new Failure("priming " + toPrime.get(k) + ": " + m.get("detail"));
                String f = toPrime.get(k);
                ids.put(f, (String) m.get("id"));
                cache.put(sha256(texts.get(f)), new LinkedHashMap<>(Map.of("id", m.get("id"), "file", f, "server", server)));
            }
            Files.writeString(cacheFile, Json.write(cache) + "\n");
        }
        log.println("primed " + toPrime.size() + ", cached " + (texts.size() - toPrime.size()));
        return ids;
    }

    static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---------------------------------------------------------------------------------------------------- picking

    /**
     * The {@code k} files sharing the most question words, each word weighted by log(N / files containing it): a
     * word in every file (the, of, is) counts nothing, a name found in one file counts most. Ties go by name.
     */
    static List<String> pick(Map<String, String> texts, String question, int k) {
        Map<String, Set<String>> words = new LinkedHashMap<>();
        texts.forEach((f, t) -> words.put(f, words(t)));
        Map<String, Double> score = new HashMap<>();
        for (String w : words(question)) {
            long df = words.values().stream().filter(s -> s.contains(w)).count();
            if (df == 0) continue;
            double idf = Math.log((double) texts.size() / df);
            words.forEach((f, s) -> {
                if (s.contains(w)) score.merge(f, idf, Double::sum);
            });
        }
        return texts.keySet().stream()
                .sorted(Comparator.comparingDouble((String f) -> -score.getOrDefault(f, 0.0)).thenComparing(f -> f))
                .limit(k).toList();
    }

    static Set<String> words(String text) {
        Set<String> s = new HashSet<>();
        for (String w : text.toLowerCase(Locale.ROOT).split("[^\\p{L}\\p{N}]+")) {
            if (!w.isEmpty()) s.add(w);
        }
        return s;
    }

    // ---------------------------------------------------------------------------------------------------- answering

    /**
     * Streams the answer to {@code out}: {@code /v1/chat/completions} with {@code stream: true}, Engram's extra
     * field {@code states} (equal weights), and {@code compose} only when it is not {@code mean} (the server's
     * default, which every Engram version understands).
     */
    @SuppressWarnings("unchecked")
    void answer(List<String> stateIds, String question, String model, String compose, int maxTokens)
            throws IOException, InterruptedException, Failure {
        Map<String, Object> body = new LinkedHashMap<>();
        if (model != null) body.put("model", model);
        body.put("messages", List.of(Map.of("role", "user", "content", question)));
        List<Object> states = new ArrayList<>();
        for (String id : stateIds) states.add(Map.of("id", id, "weight", 1.0));
        body.put("states", states);
        if (!"mean".equals(compose)) body.put("compose", compose);
        body.put("max_tokens", maxTokens);
        body.put("temperature", 0);
        body.put("stream", true);
        HttpResponse<Stream<String>> r = http.send(request("POST", "/v1/chat/completions", body).build(),
                HttpResponse.BodyHandlers.ofLines());
        if (r.statusCode() != 200) {
            throw new Failure(detail(r.statusCode(), String.join("\n", r.body().toList())));
        }
        String finish = null;
        for (String line : (Iterable<String>) r.body()::iterator) {
            if (!line.startsWith("data:")) continue;
            String data = line.substring(5).strip();
            if (data.equals("[DONE]")) break;
            Map<String, Object> chunk = Json.object(data);
            if (chunk.containsKey("type") && chunk.containsKey("detail")) throw new Failure((String) chunk.get("detail"));
            for (Object c : (List<Object>) chunk.getOrDefault("choices", List.of())) {
                Map<String, Object> choice = (Map<String, Object>) c;
                Map<String, Object> delta = (Map<String, Object>) choice.get("delta");
                if (delta != null && delta.get("content") != null) {
                    out.print(delta.get("content"));
                    out.flush();
                }
                if (choice.get("finish_reason") != null) finish = (String) choice.get("finish_reason");
            }
        }
        out.println();
        log.println("finish_reason: " + finish);
    }

    // ---------------------------------------------------------------------------------------------------- HTTP

    private HttpRequest.Builder request(String method, String path, Object body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server + path)).timeout(Duration.ofMinutes(5));
        if (apiKey != null && !apiKey.isBlank()) b.header("Authorization", "Bearer " + apiKey);
        if (body == null) return b.method(method, HttpRequest.BodyPublishers.noBody());
        return b.header("Content-Type", "application/json")
                .method(method, HttpRequest.BodyPublishers.ofString(Json.write(body), StandardCharsets.UTF_8));
    }

    private HttpResponse<String> send(String method, String path, Object body) throws IOException, InterruptedException {
        return http.send(request(method, path, body).build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    private static Map<String, Object> ok(HttpResponse<String> r) throws Failure {
        if (r.statusCode() / 100 != 2) throw new Failure(detail(r.statusCode(), r.body()));
        return Json.object(r.body());
    }

    /** The problem detail (RFC 9457) of an error answer, or its body. */
    static String detail(int status, String body) {
        try {
            Map<String, Object> p = Json.object(body);
            return status + " " + p.getOrDefault("title", "") + ": " + p.getOrDefault("detail", body);
        } catch (RuntimeException notJson) {
            return status + ": " + body;
        }
    }
}
