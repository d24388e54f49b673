package io.engram.testsupport;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * External programs the operations tests drive (prometheus, promtool, kubectl, helm). A missing one fails the test
 * with what to install; it never skips silently. A developer without them may opt out explicitly with
 * {@code -Dengram.skip-ops-tools=true} (CI never does: .ci/run installs them).
 */
public final class Tools {

    private Tools() {}

    /** {@code name} from the environment variable {@code env} (a path), else from PATH. */
    public static Path require(String name, String env, String install) {
        String override = System.getenv(env);
        if (override != null && !override.isBlank()) {
            Path p = Path.of(override);
            if (Files.isExecutable(p)) return p;
            fail(env + "=" + override + " is not an executable");
        }
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path p = Path.of(dir, name);
            if (Files.isExecutable(p)) return p;
        }
        if (Boolean.getBoolean("engram.skip-ops-tools")) {
            Assumptions.abort(name + " is not installed and -Dengram.skip-ops-tools=true was given");
        }
        fail(name + " is not installed (nor named by $" + env + "); " + install
                + ". .ci/run installs it; to skip these tests locally, pass -Dengram.skip-ops-tools=true");
        return null;
    }

    public record Result(int exit, String out) {}

    /** Runs a command to completion (stdout and stderr together). */
    public static Result run(List<String> cmd, Path dir, int timeoutS) {
        try {
            Path log = Files.createTempFile("engram-tool", ".log");
            Process p = new ProcessBuilder(new ArrayList<>(cmd)).directory(dir.toFile()).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start();
            if (!p.waitFor(timeoutS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new Result(-1, "timed out after " + timeoutS + " s: " + Files.readString(log));
            }
            String out = Files.readString(log);
            Files.deleteIfExists(log);
            return new Result(p.exitValue(), out);
        } catch (IOException e) {
            throw new AssertionError("cannot run " + cmd + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
