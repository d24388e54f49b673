package io.engram;

import static org.assertj.core.api.Assertions.assertThat;

import io.engram.model.retnet.RetNetSchema;
import io.engram.model.rwkv7.Rwkv7Schema;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Each checkpoint format's tensor names live in one main-code file, its schema (tracker issue 17): the reader, the
 * demo writer and training all refer to the schema's constants. The check reads every main source file and counts
 * the files that hold a name as a string literal (a double quote followed by the name), so a second copy of
 * {@code "att.key.weight"} or a hand-built {@code "layers." + i} anywhere else fails it.
 */
class TensorNamesTest {

    private static final Path MAIN = Path.of("src/main/java");
    private static final Map<Path, String> SOURCES = new LinkedHashMap<>();

    @BeforeAll
    static void readSources() throws IOException {
        try (Stream<Path> files = Files.walk(MAIN)) {
            for (Path p : files.filter(f -> f.toString().endsWith(".java")).toList()) {
                SOURCES.put(p, Files.readString(p));
            }
        }
        assertThat(SOURCES).as("main sources under %s", MAIN.toAbsolutePath()).hasSizeGreaterThan(50);
    }

    @Test
    void rwkv7NamesLiveOnlyInRwkv7Schema() throws Exception {
        assertQuotedOnlyInSchema(Rwkv7Schema.class, "blocks.", 35);
    }

    @Test
    void retNetNamesLiveOnlyInRetNetSchema() throws Exception {
        assertQuotedOnlyInSchema(RetNetSchema.class, "layers.", 15);
    }

    @Test
    void theSchemasListEveryNameTheirFormatHas() {
        // one layer's worth of names: a new field constant that all()/names() forgets would not be read or written
        assertThat(Rwkv7Schema.all(2)).doesNotHaveDuplicates().hasSize(1 + 32 + 33 + 3);
        assertThat(RetNetSchema.all(2, true)).doesNotHaveDuplicates().hasSize(2 + 2 * 10 + 2 + 2);
        assertThat(RetNetSchema.all(2, false)).doesNotContain(RetNetSchema.EMBED_NORM);
    }

    /**
     * Every String constant of {@code schema} (more than {@code atLeast} of them), and its per-layer {@code prefix},
     * is quoted in the schema's own source file and in no other main file.
     */
    private static void assertQuotedOnlyInSchema(Class<?> schema, String prefix, int atLeast) throws Exception {
        List<String> names = constants(schema);
        names.add(prefix);
        assertThat(names).hasSizeGreaterThan(atLeast);
        Path home = MAIN.resolve(schema.getName().replace('.', '/') + ".java");
        for (String name : names) {
            assertThat(filesQuoting(name)).as("main files quoting \"%s\"", name).containsExactly(home);
        }
    }

    /** The values of {@code schema}'s public static String constants. */
    private static List<String> constants(Class<?> schema) throws IllegalAccessException {
        List<String> out = new ArrayList<>();
        for (Field f : schema.getFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == String.class) out.add((String) f.get(null));
        }
        return out;
    }

    private static List<Path> filesQuoting(String name) {
        String literal = "\"" + name;
        return SOURCES.entrySet().stream().filter(e -> e.getValue().contains(literal)).map(Map.Entry::getKey).toList();
    }
}
