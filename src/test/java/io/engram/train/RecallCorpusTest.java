package io.engram.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.tokenizer.RwkvWorldTokenizer;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The corpus's promises: fixed token lengths under its vocabulary, a name split that never leaks, reproducibility. */
class RecallCorpusTest {

    @TempDir Path dir;

    @Test
    void everyFactAndQuestionHasItsFixedLengthAndRoundTrips() throws Exception {
        Path vocab = dir.resolve(RwkvWorldTokenizer.VOCAB_FILE);
        RecallCorpus.writeVocabulary(vocab);
        RwkvWorldTokenizer tok = RwkvWorldTokenizer.load(vocab);
        assertTrue(tok.maxTokenId() < RecallCorpus.vocabSize());
        RecallCorpus c = new RecallCorpus();
        SplittableRandom rnd = new SplittableRandom(3);
        for (RecallCorpus.Split split : RecallCorpus.Split.values()) {
            for (String name : c.names(split)) {
                for (String attribute : RecallCorpus.ATTRIBUTES) {
                    String value = attribute.equals("code") ? String.format("%04d", rnd.nextInt(10_000)) : "Marlun";
                    RecallCorpus.Fact f = new RecallCorpus.Fact(name, attribute, value);
                    assertEquals(RecallCorpus.FACT_TOKENS, tok.encode(f.sentence()).length, f.sentence());
                    assertEquals(RecallCorpus.FACT_TOKENS, tok.encode(" " + f.sentence()).length, " " + f.sentence());
                    int[] qa = tok.encode(f.question() + f.answer());
                    assertEquals(RecallCorpus.QA_TOKENS, qa.length, f.question() + f.answer());
                    assertEquals(f.question() + f.answer(), tok.decode(qa));
                    int[] answer = java.util.Arrays.copyOfRange(qa, qa.length - RecallCorpus.ANSWER_TOKENS, qa.length);
                    assertEquals(f.answer(), tok.decode(answer));
                }
            }
        }
        RecallCorpus.Example e = c.example(rnd, RecallCorpus.Split.TRAIN, 4, 3);
        assertEquals(4 * 3 * RecallCorpus.FACT_TOKENS + 3, tok.encode(e.concatenated()).length);
    }

    @Test
    void heldOutNamesNeverAppearInTraining() {
        RecallCorpus c = new RecallCorpus();
        Set<String> train = new HashSet<>(c.names(RecallCorpus.Split.TRAIN));
        List<String> held = c.names(RecallCorpus.Split.HELD_OUT);
        assertTrue(held.size() > 60 && train.size() > 400, held.size() + " held out, " + train.size() + " train");
        for (String n : held) assertFalse(train.contains(n), n);
        SplittableRandom rnd = new SplittableRandom(9);
        for (int i = 0; i < 2000; i++) {
            for (List<RecallCorpus.Fact> d : c.example(rnd, RecallCorpus.Split.TRAIN, 8, 2).documents()) {
                for (RecallCorpus.Fact f : d) assertTrue(train.contains(f.name()), f.name());
            }
        }
    }

    @Test
    void examplesAreReproducibleAndNamesDistinct() {
        RecallCorpus c = new RecallCorpus();
        RecallCorpus.Example a = c.example(new SplittableRandom(5), RecallCorpus.Split.HELD_OUT, 8, 2);
        RecallCorpus.Example b = c.example(new SplittableRandom(5), RecallCorpus.Split.HELD_OUT, 8, 2);
        assertEquals(a, b);
        Set<String> names = new HashSet<>();
        for (List<RecallCorpus.Fact> d : a.documents()) for (RecallCorpus.Fact f : d) assertTrue(names.add(f.name()));
        assertTrue(a.documents().stream().anyMatch(d -> d.contains(a.asked())));
    }
}
