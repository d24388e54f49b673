package io.engram.metrics;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code process_resident_memory_bytes}: the resident set of the whole process, read from
 * {@code /proc/self/status} ({@code VmRSS}). libtorch allocates its tensors outside the Java heap, so the JVM's
 * memory metrics do not see them; RSS does. NaN where there is no procfs.
 */
public final class ProcessMemoryMetrics implements MeterBinder {

    private final Path status;

    public ProcessMemoryMetrics() {
        this(Path.of("/proc/self/status"));
    }

    ProcessMemoryMetrics(Path status) {
        this.status = status;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        Gauge.builder("process.resident.memory", this, ProcessMemoryMetrics::residentBytes).baseUnit("bytes")
                .description("Resident set size of the process (Java heap, native and libtorch memory)").register(registry);
    }

    /** VmRSS in bytes, or NaN when it cannot be read. */
    public double residentBytes() {
        try {
            for (String line : Files.readAllLines(status)) {
                if (line.startsWith("VmRSS:")) {
                    String[] f = line.substring(6).trim().split("\\s+");
                    long kb = Long.parseLong(f[0]);
                    return kb * 1024.0;
                }
            }
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
        return Double.NaN;
    }
}
