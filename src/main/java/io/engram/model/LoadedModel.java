package io.engram.model;

import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.engram.tokenizer.Tokenizer;

/**
 * A model ready to serve: its network, tokenizer and identity.
 *
 * @param id          the folder name under {@code engram.models-dir}
 * @param fingerprint {@code sha256:<hex>} over config.json and the weight files' bytes; two servers with the same
 *                    files agree on it, and state ids are derived from it
 * @param weightsDtype the dtype the checkpoint was stored in (weights are computed in float32)
 * @param serveDtype   the format the CPU decode kernels read the large matrices in ({@code float32}, {@code bfloat16},
 *                     {@code int8}; README, "Served weight formats")
 * @param description  a human note, e.g. that a demo model has random weights
 * @param chatTemplate how {@code /v1/chat/completions} renders messages for this model
 */
public record LoadedModel(String id, LanguageModel model, Tokenizer tokenizer, String tokenizerKind,
                          String fingerprint, String weightsDtype, String serveDtype, String device, String description,
                          ChatTemplate chatTemplate)
        implements AutoCloseable {

    @Override
    public void close() {
        model.close();
    }

    public String architecture() {
        return model.architecture();
    }

    /**
     * Exactly one of {@code text} / {@code tokens} as token ids of this model: the text encoded, or the ids
     * checked against the vocabulary. This is the one check of token ranges; the models assume valid ids.
     *
     * @param what       the request field, for the messages ({@code text}, {@code prompt}, {@code tokens})
     * @param allowEmpty whether no tokens at all (neither given, or an empty text) is acceptable
     */
    public int[] tokens(String text, int[] tokens, String what, boolean allowEmpty) {
        if (text != null && tokens != null) {
            throw new EngramException(ProblemType.INVALID_REQUEST, "give either '" + what + "' text or '" + what + "_tokens'/'tokens', not both");
        }
        int[] ids = tokens != null ? tokens : text != null ? tokenizer.encode(text) : new int[0];
        if (ids.length == 0 && !allowEmpty) {
            throw new EngramException(ProblemType.INVALID_REQUEST, "the document is empty: send non-empty 'text' or 'tokens'");
        }
        int vocab = model.vocabSize();
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new EngramException(ProblemType.TOKEN_OUT_OF_RANGE,
                        "token " + i + " is " + ids[i] + "; model '" + id + "' accepts ids 0.." + (vocab - 1));
            }
        }
        return ids;
    }
}
