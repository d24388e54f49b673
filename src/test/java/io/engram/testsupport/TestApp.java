package io.engram.testsupport;

import io.engram.EngramApplication;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * A whole Engram server started in-process on a free port (for tests that need several servers at once, or
 * restart one): the same {@link SpringApplication} as production, with {@code --name=value} overrides.
 */
public final class TestApp implements AutoCloseable {

    private final ConfigurableApplicationContext ctx;
    private final Http http;

    private TestApp(ConfigurableApplicationContext ctx) {
        this.ctx = ctx;
        this.http = new Http(Integer.parseInt(ctx.getEnvironment().getProperty("local.server.port")));
    }

    /** Serves the models under {@code modelsDir}; {@code overrides} are {@code name=value} properties. */
    public static TestApp start(Path modelsDir, String... overrides) {
        List<String> args = new ArrayList<>(List.of("--server.port=0", "--engram.models-dir=" + modelsDir,
                "--engram.demo.enabled=false", "--engram.scheduler.chunk-tokens=16", "--spring.main.banner-mode=off",
                "--logging.level.root=WARN", "--logging.level.io.engram=WARN"));
        for (String o : overrides) args.add("--" + o);
        SpringApplication app = new SpringApplication(EngramApplication.class);
        return new TestApp(app.run(args.toArray(String[]::new)));
    }

    /** Overrides for {@code engram.store=redis} at {@code url} under {@code prefix}. */
    public static String[] redis(String url, String prefix, String... more) {
        List<String> a = new ArrayList<>(List.of("engram.store=redis", "spring.data.redis.url=" + url,
                "engram.redis.key-prefix=" + prefix));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    public Http http() {
        return http;
    }

    public <T> T bean(Class<T> type) {
        return ctx.getBean(type);
    }

    @Override
    public void close() {
        ctx.close();
    }
}
