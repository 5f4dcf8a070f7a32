package demo.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A small com.sun.net.httpserver server: GET / answers a greeting, GET /count
 * the number of requests served. Port: first argument, else $PORT, else 8080;
 * a second argument: milliseconds of set-up before it listens (a server that
 * loads its world first). Prints "listening on PORT" when ready. Stops on
 * SIGTERM (the JVM's default).
 */
public final class Server {
    public static void main(String[] args) throws IOException, InterruptedException {
        int port = args.length > 0 ? Integer.parseInt(args[0])
                : Integer.parseInt(System.getenv().getOrDefault("PORT", "8080"));
        if (args.length > 1) Thread.sleep(Long.parseLong(args[1]));
        AtomicLong served = new AtomicLong();
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 64);
        server.createContext("/", ex -> reply(ex, "hello from hpack http\n", served));
        server.createContext("/count", ex -> reply(ex, served.get() + "\n", served));
        server.setExecutor(Executors.newFixedThreadPool(4));
        server.start();
        System.out.println("listening on " + port);
    }

    private static void reply(HttpExchange ex, String body, AtomicLong served) throws IOException {
        served.incrementAndGet();
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        ex.sendResponseHeaders(200, b.length);
        try (OutputStream o = ex.getResponseBody()) {
            o.write(b);
        }
    }
}
