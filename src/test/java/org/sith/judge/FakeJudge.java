package org.sith.judge;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;

/**
 * A real HTTP server on loopback speaking the Chat Completions wire format, for the judge's tests: every request is
 * recorded (path, method, headers, parsed body) and answered by a function of it (status, body, headers, a delay).
 */
public final class FakeJudge implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One request as received. */
    public record Request(String method, String path, String authorization, String contentType, JsonNode body) {
        public String model() {
            return body.path("model").asText(null);
        }

        public String system() {
            return body.path("messages").path(0).path("content").asText(null);
        }

        public String user() {
            return body.path("messages").path(1).path("content").asText(null);
        }

        /** The concepts listed in the user message ("- x" lines after "Concepts:"). */
        public List<String> concepts() {
            List<String> out = new ArrayList<>();
            boolean in = false;
            for (String line : user().split("\n")) {
                if (line.equals("Concepts:")) in = true;
                else if (in && line.startsWith("- ")) out.add(line.substring(2));
                else if (in) in = false;
            }
            return out;
        }

        /** The category of a relevance question, or null. */
        public String category() {
            for (String line : user().split("\n")) if (line.startsWith("Category: ")) return line.substring("Category: ".length());
            return null;
        }
    }

    /** An answer: status, body, extra headers, and how long to wait before sending it. */
    public record Reply(int status, String body, Map<String, String> headers, long delayMillis) {
        public static Reply content(String text) {
            ObjectNode b = JSON.createObjectNode();
            b.put("id", "chatcmpl-test").put("object", "chat.completion").put("model", "fake");
            ObjectNode choice = b.putArray("choices").addObject();
            choice.put("index", 0).put("finish_reason", "stop");
            choice.putObject("message").put("role", "assistant").put("content", text);
            return new Reply(200, b.toString(), Map.of(), 0);
        }

        public static Reply status(int status, String body) {
            return new Reply(status, body, Map.of(), 0);
        }

        public Reply header(String name, String value) {
            Map<String, String> h = new java.util.HashMap<>(headers);
            h.put(name, value);
            return new Reply(status, body, h, delayMillis);
        }

        public Reply delayed(long millis) {
            return new Reply(status, body, headers, millis);
        }
    }

    private final HttpServer server;
    private final ExecutorService executor = Executors.newFixedThreadPool(16);
    public final List<Request> requests = Collections.synchronizedList(new ArrayList<>());
    private final AtomicInteger inFlight = new AtomicInteger();
    public final AtomicInteger maxInFlight = new AtomicInteger();
    private volatile Function<Request, Reply> behaviour;

    public FakeJudge(Function<Request, Reply> behaviour) throws IOException {
        this.behaviour = behaviour;
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", ex -> {
            int now = inFlight.incrementAndGet();
            maxInFlight.accumulateAndGet(now, Math::max);
            try (InputStream in = ex.getRequestBody()) {
                String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                JsonNode body;
                try {
                    body = JSON.readTree(text);
                } catch (IOException e) {
                    body = JSON.createObjectNode().put("unparsable", text);
                }
                Request r = new Request(ex.getRequestMethod(), ex.getRequestURI().getPath(), ex.getRequestHeaders().getFirst("Authorization"),
                        ex.getRequestHeaders().getFirst("Content-Type"), body);
                requests.add(r);
                Reply reply = this.behaviour.apply(r);
                if (reply.delayMillis() > 0) Thread.sleep(reply.delayMillis());
                byte[] out = reply.body().getBytes(StandardCharsets.UTF_8);
                reply.headers().forEach((k, v) -> ex.getResponseHeaders().add(k, v));
                ex.getResponseHeaders().add("Content-Type", "application/json");
                ex.sendResponseHeaders(reply.status(), out.length == 0 ? -1 : out.length);
                try (OutputStream o = ex.getResponseBody()) {
                    o.write(out);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (IOException e) {
                // the client gave up (a timeout): nothing to answer
            } finally {
                inFlight.decrementAndGet();
                ex.close();
            }
        });
        server.setExecutor(executor);
        server.start();
    }

    public void behave(Function<Request, Reply> b) {
        this.behaviour = b;
    }

    /** The base URL, as a user gives --judge-url: http://127.0.0.1:PORT/v1 */
    public String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
