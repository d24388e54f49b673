package io.engram.train;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A synthetic associative-recall corpus, generated here so that nothing is downloaded. Documents state facts,
 * <pre>
 *   The code of Zorbel is 4417. The capital of Marlun is Torwyn.
 * </pre>
 * and questions ask for one of them, {@code "\nQ: What is the code of Zorbel? A:"}, answered {@code " 4417."}.
 *
 * <p>Names are two syllables ({@code "Zor" + "bel"}), values a four-digit code or a two-syllable city. Names are
 * split by a fixed rule into a training set and a held-out set (about one in five), so evaluation never sees a
 * name, let alone a fact, that training saw. Facts are drawn afresh for every example: nothing can be memorised,
 * every answer has to be read from the document.
 *
 * <p>The corpus comes with its own compact vocabulary (RWKV World file format, {@link #writeVocabulary}): every
 * byte, the template words, each syllable and each two-digit number. With it every fact is exactly
 * {@value #FACT_TOKENS} tokens and every question + answer {@value #QA_TOKENS}, so documents with the same number
 * of facts have the same length and batch without padding (and RetNet states of documents to be averaged are at
 * the same position).
 */
public final class RecallCorpus {

    /** Tokens in one fact: "The| code| of| Zor|bel| is| 44|17|." (a leading space on all but the first). */
    public static final int FACT_TOKENS = 9;
    /** Tokens in a question and its answer: "\nQ:| What| is| the| code| of| Zor|bel|?| A:| 44|17|.". */
    public static final int QA_TOKENS = 13;
    /** Of which the answer, " 44|17|.", is the last {@value}. */
    public static final int ANSWER_TOKENS = 3;

    static final String[] SYLLABLES = {
        "zor", "bel", "mar", "lun", "tor", "wyn", "kel", "dun", "fen", "gal", "hol", "jor",
        "nim", "pel", "ros", "sab", "tav", "vel", "yar", "cor", "dra", "eld", "orn", "qui",
    };
    static final String[] ATTRIBUTES = {"code", "capital"};
    static final String[] WORDS = {"The", " The", " code", " capital", " of", " is", "\nQ:", " What", " the", " A:"};

    /** One fact: {@code attribute} of {@code name} is {@code value}. */
    public record Fact(String name, String attribute, String value) {
        public String sentence() {
            return "The " + attribute + " of " + name + " is " + value + ".";
        }

        public String question() {
            return "\nQ: What is the " + attribute + " of " + name + "? A:";
        }

        /** The answer as the model should continue the question. */
        public String answer() {
            return " " + value + ".";
        }
    }

    /** A group of documents and one question about a fact in one of them. */
    public record Example(List<List<Fact>> documents, Fact asked) {
        public List<String> documentTexts() {
            List<String> out = new ArrayList<>();
            for (List<Fact> d : documents) out.add(text(d));
            return out;
        }

        /** The documents concatenated, one per line, as one input. */
        public String concatenated() {
            return String.join("\n", documentTexts());
        }
    }

    public enum Split { TRAIN, HELD_OUT }

    private final List<String> trainNames = new ArrayList<>(), heldOutNames = new ArrayList<>();

    public RecallCorpus() {
        for (String a : SYLLABLES) {
            for (String b : SYLLABLES) {
                if (a.equals(b)) continue;
                String name = capital(a) + b;
                // a fixed rule, independent of any seed: about one name in five is never trained on
                (Math.floorMod(name.hashCode() * 31 + 7, 5) == 0 ? heldOutNames : trainNames).add(name);
            }
        }
    }

    public List<String> names(Split split) {
        return split == Split.TRAIN ? trainNames : heldOutNames;
    }

    /**
     * An example of {@code documents} documents with {@code factsPerDocument} facts each, every name distinct,
     * and a question about a uniformly chosen fact.
     */
    public Example example(SplittableRandom rnd, Split split, int documents, int factsPerDocument) {
        List<String> pool = names(split);
        int need = documents * factsPerDocument;
        if (need > pool.size()) throw new IllegalArgumentException(need + " facts need more than the " + pool.size() + " names");
        LinkedHashSet<String> chosen = new LinkedHashSet<>();
        while (chosen.size() < need) chosen.add(pool.get(rnd.nextInt(pool.size())));
        List<String> names = new ArrayList<>(chosen);
        List<List<Fact>> docs = new ArrayList<>();
        for (int d = 0; d < documents; d++) {
            List<Fact> facts = new ArrayList<>();
            for (int f = 0; f < factsPerDocument; f++) {
                String attribute = ATTRIBUTES[rnd.nextInt(ATTRIBUTES.length)];
                String value = attribute.equals("code")
                        ? String.format("%04d", rnd.nextInt(10_000))
                        : capital(SYLLABLES[rnd.nextInt(SYLLABLES.length)]) + SYLLABLES[rnd.nextInt(SYLLABLES.length)];
                facts.add(new Fact(names.get(d * factsPerDocument + f), attribute, value));
            }
            docs.add(facts);
        }
        List<Fact> in = docs.get(rnd.nextInt(documents));
        return new Example(docs, in.get(rnd.nextInt(factsPerDocument)));
    }

    /** A document's text: its facts' sentences separated by one space. */
    public static String text(List<Fact> facts) {
        StringBuilder sb = new StringBuilder();
        for (Fact f : facts) {
            if (sb.length() > 0) sb.append(' ');
            sb.append(f.sentence());
        }
        return sb.toString();
    }

    /** The corpus vocabulary after the 256 byte tokens (ids 1..256), in id order from 257. */
    public static List<String> extraTokens() {
        List<String> out = new ArrayList<>(List.of(WORDS));
        for (String s : SYLLABLES) {
            out.add(" " + capital(s));
            out.add(s);
        }
        for (int i = 0; i < 100; i++) {
            String two = String.format("%02d", i);
            out.add(" " + two);
            out.add(two);
        }
        return out;
    }

    /** Model vocabulary size: id 0 (end of text), 256 bytes, the corpus tokens, rounded up to a multiple of 16. */
    public static int vocabSize() {
        int n = 1 + 256 + extraTokens().size();
        return (n + 15) / 16 * 16;
    }

    /**
     * Writes the vocabulary in the RWKV World file format ({@code id 'text' length}), the byte tokens taken
     * verbatim from the World vocabulary, so the server's {@code rwkv-world} tokenizer reads it.
     */
    public static void writeVocabulary(Path file) throws IOException {
        List<String> lines = new ArrayList<>();
        try (InputStream in = RecallCorpus.class.getResourceAsStream("/tokenizer/rwkv_vocab_v20230424.txt")) {
            if (in == null) throw new IOException("the RWKV World vocabulary is missing from the classpath");
            String[] world = new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n", 257);
            for (int i = 0; i < 256; i++) lines.add(world[i]);
        }
        int id = 257;
        for (String t : extraTokens()) {
            String repr = t.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n");
            lines.add(id++ + " '" + repr + "' " + t.getBytes(StandardCharsets.UTF_8).length);
        }
        Files.writeString(file, String.join("\n", lines) + "\n");
    }

    private static String capital(String s) {
        return Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }
}
