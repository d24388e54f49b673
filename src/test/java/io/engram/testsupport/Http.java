package io.engram.testsupport;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** A tiny real-HTTP client for tests against a server on 127.0.0.1. */
public final class Http {

    public static final JsonMapper JSON = JsonMapper.builder().build();

    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final int port;

    public Http(int port) {
        this.port = port;
    }

    public record Response(int status, java.net.http.HttpHeaders headers, String body) {
        public JsonNode json() {
            return JSON.readTree(body);
        }

        public String contentType() {
            return headers.firstValue("content-type").orElse("");
        }
    }

    public Response get(String path) {
        return send(HttpRequest.newBuilder(uri(path)).GET().build());
    }

    public Response delete(String path) {
        return send(HttpRequest.newBuilder(uri(path)).DELETE().build());
    }

    public Response post(String path, String json) {
        return send(HttpRequest.newBuilder(uri(path)).header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build());
    }

    public Response post(String path, Object body) {
        return post(path, JSON.writeValueAsString(body));
    }

    /** POSTs raw bytes (application/octet-stream). */
    public Response postBytes(String path, byte[] body) {
        return send(HttpRequest.newBuilder(uri(path)).header("content-type", "application/octet-stream")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build());
    }

    public record BytesResponse(int status, java.net.http.HttpHeaders headers, byte[] body) {}

    public BytesResponse getBytes(String path) {
        try {
            HttpResponse<byte[]> res = client.send(HttpRequest.newBuilder(uri(path)).GET().build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            return new BytesResponse(res.statusCode(), res.headers(), res.body());
        } catch (Exception e) {
            throw new AssertionError("HTTP GET " + path + " failed: " + e, e);
        }
    }

    public URI uri(String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    public HttpClient client() {
        return client;
    }

    private Response send(HttpRequest r) {
        try {
            HttpResponse<String> res = client.send(r, HttpResponse.BodyHandlers.ofString());
            return new Response(res.statusCode(), res.headers(), res.body());
        } catch (Exception e) {
            throw new AssertionError("HTTP " + r.method() + " " + r.uri() + " failed: " + e, e);
        }
    }
}
