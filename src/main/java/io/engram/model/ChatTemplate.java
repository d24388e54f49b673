package io.engram.model;

import java.util.List;
import java.util.Map;

/**
 * How chat messages become a prompt, from the model folder's config.json key {@code chat_template}:
 * <pre>
 * "chat_template": {"system": "System: {content}\n\n", "user": "User: {content}\n\n",
 *                   "assistant": "Assistant: {content}\n\n", "generation_prompt": "Assistant:",
 *                   "stop": ["\n\nUser:"]}
 * </pre>
 * Without it, the RWKV World chat format is used ({@code User: …\n\nAssistant:}).
 */
public record ChatTemplate(String system, String user, String assistant, String generationPrompt, List<String> stop) {

    public static final ChatTemplate RWKV_WORLD = new ChatTemplate("System: {content}\n\n", "User: {content}\n\n",
            "Assistant: {content}\n\n", "Assistant:", List.of("\n\nUser:"));

    /** One chat message. */
    public record Message(String role, String content) {}

    public String render(List<Message> messages) {
        StringBuilder b = new StringBuilder();
        for (Message m : messages) {
            String pattern = switch (m.role()) {
                case "system", "developer" -> system;
                case "user" -> user;
                case "assistant" -> assistant;
                default -> throw new IllegalArgumentException("message role '" + m.role()
                        + "' is not supported; use system, user or assistant");
            };
            // single-pass substitution: content is never re-scanned for placeholders
            int at = pattern.indexOf("{content}");
            b.append(pattern, 0, at).append(m.content()).append(pattern, at + "{content}".length(), pattern.length());
        }
        return b.append(generationPrompt).toString();
    }

    @SuppressWarnings("unchecked")
    static ChatTemplate fromConfig(Object value) {
        if (!(value instanceof Map<?, ?> raw)) return RWKV_WORLD;
        Map<String, Object> m = (Map<String, Object>) raw;
        ChatTemplate d = RWKV_WORLD;
        Object stop = m.get("stop");
        return new ChatTemplate(str(m, "system", d.system), str(m, "user", d.user), str(m, "assistant", d.assistant),
                str(m, "generation_prompt", d.generationPrompt),
                stop instanceof List<?> l ? l.stream().map(String::valueOf).toList() : d.stop);
    }

    private static String str(Map<String, Object> m, String key, String fallback) {
        Object v = m.get(key);
        if (v == null) return fallback;
        String s = String.valueOf(v);
        if (!key.equals("generation_prompt") && !s.contains("{content}")) {
            throw new IllegalArgumentException("chat_template." + key + " must contain {content}");
        }
        return s;
    }
}
