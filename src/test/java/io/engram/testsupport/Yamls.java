package io.engram.testsupport;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;

/** YAML documents as maps, and path access into them (SnakeYAML, which Spring Boot brings). */
public final class Yamls {

    private Yamls() {}

    @SuppressWarnings("unchecked")
    public static List<Map<String, Object>> all(String text) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Object o : new Yaml(new LoaderOptions()).loadAll(text)) {
            if (o != null) out.add((Map<String, Object>) o);
        }
        return out;
    }

    public static Map<String, Object> one(String text) {
        List<Map<String, Object>> all = all(text);
        if (all.size() != 1) throw new AssertionError("expected one YAML document, got " + all.size());
        return all.get(0);
    }

    /** The value at a dotted path ({@code spec.template.spec}); list elements by index ({@code containers.0}). */
    @SuppressWarnings("unchecked")
    public static <T> T at(Object root, String path) {
        Object cur = root;
        for (String part : path.split("\\.")) {
            if (cur instanceof Map<?, ?> m) cur = m.get(part);
            else if (cur instanceof List<?> l && part.matches("\\d+")) cur = l.get(Integer.parseInt(part));
            else return null;
            if (cur == null) return null;
        }
        return (T) cur;
    }

    /** The first document of {@code kind} (and {@code name}, when given). */
    public static Map<String, Object> find(List<Map<String, Object>> docs, String kind) {
        for (Map<String, Object> d : docs) if (kind.equals(d.get("kind"))) return d;
        return null;
    }
}
