package io.engram.model;

import io.engram.tokenizer.Tokenizer;

/**
 * A model ready to serve: its network, tokenizer and identity.
 *
 * @param id          the folder name under {@code engram.models-dir}
 * @param fingerprint {@code sha256:<hex>} over config.json and the weight files' bytes; two servers with the same
 *                    files agree on it, and state ids are derived from it
 * @param weightsDtype the dtype the checkpoint was stored in (weights are computed in float32)
 * @param description  a human note, e.g. that a demo model has random weights
 * @param chatTemplate how {@code /v1/chat/completions} renders messages for this model
 */
public record LoadedModel(String id, LanguageModel model, Tokenizer tokenizer, String tokenizerKind,
                          String fingerprint, String weightsDtype, String device, String description,
                          ChatTemplate chatTemplate)
        implements AutoCloseable {

    @Override
    public void close() {
        model.close();
    }

    public String architecture() {
        return model.architecture();
    }
}
