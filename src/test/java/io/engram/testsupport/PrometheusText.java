package io.engram.testsupport;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A parsed Prometheus text exposition: one sample per series, with its labels. */
public final class PrometheusText {

    public record Sample(String name, Map<String, String> labels, double value) {}

    private final List<Sample> samples;

    private PrometheusText(List<Sample> samples) {
        this.samples = samples;
    }

    public static PrometheusText parse(String body) {
        List<Sample> out = new ArrayList<>();
        for (String line : body.split("\n")) {
            line = line.strip();
            if (line.isEmpty() || line.startsWith("#")) continue;
            int brace = line.indexOf('{');
            int space = line.indexOf(' ');
            String name;
            Map<String, String> labels = new LinkedHashMap<>();
            String rest;
            if (brace >= 0 && brace < space) {
                name = line.substring(0, brace);
                int i = brace + 1;
                while (line.charAt(i) != '}') {
                    int eq = line.indexOf('=', i);
                    String key = line.substring(i, eq).strip();
                    StringBuilder v = new StringBuilder();
                    int j = eq + 2; // skip ="
                    while (line.charAt(j) != '"') {
                        char c = line.charAt(j);
                        if (c == '\\') {
                            char n = line.charAt(++j);
                            v.append(n == 'n' ? '\n' : n);
                        } else {
                            v.append(c);
                        }
                        j++;
                    }
                    labels.put(key, v.toString());
                    i = j + 1;
                    if (line.charAt(i) == ',') i++;
                }
                rest = line.substring(i + 1).strip();
            } else {
                name = line.substring(0, space);
                rest = line.substring(space + 1).strip();
            }
            String value = rest.split("\\s+")[0];
            out.add(new Sample(name, labels, switch (value) {
                case "+Inf" -> Double.POSITIVE_INFINITY;
                case "-Inf" -> Double.NEGATIVE_INFINITY;
                default -> Double.parseDouble(value);
            }));
        }
        return new PrometheusText(out);
    }

    public List<Sample> samples() {
        return samples;
    }

    /** Every sample of {@code name} whose labels include {@code match} (key, value, key, value...). */
    public List<Sample> find(String name, String... match) {
        List<Sample> out = new ArrayList<>();
        for (Sample s : samples) {
            if (!s.name().equals(name)) continue;
            boolean ok = true;
            for (int i = 0; i < match.length; i += 2) ok &= match[i + 1].equals(s.labels().get(match[i]));
            if (ok) out.add(s);
        }
        return out;
    }

    /** The sum over the matching series; 0 when there is none. */
    public double sum(String name, String... match) {
        return find(name, match).stream().mapToDouble(Sample::value).sum();
    }

    public boolean has(String name) {
        return samples.stream().anyMatch(s -> s.name().equals(name));
    }
}
