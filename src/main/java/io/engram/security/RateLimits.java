package io.engram.security;

import io.engram.config.EngramProperties;
import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.engram.tenant.TokenMeter;
import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Per-key token buckets (Bucket4j, in this process): one for requests per second and one for model tokens per
 * minute, each refilled greedily (continuously) and holding at most one period's worth, so a key may burst up to
 * its limit and then gets its rate. Limits come from {@code engram.security.rate-limit.*}, overridden per tenant by
 * {@code engram.security.rate-limit.tenants.<name>.*}; 0 turns one off.
 *
 * <p>Buckets exist only for configured keys (created at start-up), so unauthenticated traffic cannot grow this map.
 * They are per replica: with N replicas behind a load balancer a key gets up to N times its limit.
 */
public final class RateLimits {

    private final Map<String, KeyLimits> byLabel = new LinkedHashMap<>();

    public RateLimits(ApiKeys keys, EngramProperties.RateLimit config) {
        for (ApiKeys.Entry e : keys.entries()) {
            byLabel.put(e.label(), new KeyLimits(e.tenant(), config.requestsPerSecond(e.tenant()),
                    config.tokensPerMinute(e.tenant())));
        }
    }

    public KeyLimits of(ApiKeys.Entry key) {
        return byLabel.get(key.label());
    }

    /** The two buckets of one key. */
    public static final class KeyLimits implements TokenMeter {

        private final String tenant;
        private final long requestsPerSecond, tokensPerMinute;
        private final Bucket requests, tokens;

        KeyLimits(String tenant, long requestsPerSecond, long tokensPerMinute) {
            this.tenant = tenant;
            this.requestsPerSecond = requestsPerSecond;
            this.tokensPerMinute = tokensPerMinute;
            this.requests = bucket(requestsPerSecond, Duration.ofSeconds(1));
            this.tokens = bucket(tokensPerMinute, Duration.ofMinutes(1));
        }

        private static Bucket bucket(long perPeriod, Duration period) {
            if (perPeriod <= 0) return null;
            return Bucket.builder()
                    .addLimit(Bandwidth.builder().capacity(perPeriod).refillGreedy(perPeriod, period).build())
                    .build();
        }

        /** Counts one request; throws {@code rate-limited} when the key is over its requests per second. */
        public void request() {
            if (requests == null) return;
            ConsumptionProbe p = requests.tryConsumeAndReturnRemaining(1);
            if (!p.isConsumed()) {
                throw limited(p, "more than " + requestsPerSecond + " requests per second for this API key of tenant '"
                        + tenant + "' (engram.security.rate-limit.requests-per-second)");
            }
        }

        @Override
        public void take(long n) {
            if (tokens == null || n <= 0) return;
            if (n > tokensPerMinute) {
                throw new EngramException(ProblemType.LIMIT_EXCEEDED, "this request needs " + n
                        + " tokens, more than the " + tokensPerMinute + " tokens per minute allowed to tenant '" + tenant
                        + "' (engram.security.rate-limit.tokens-per-minute): send a shorter document or fewer max_tokens");
            }
            ConsumptionProbe p = tokens.tryConsumeAndReturnRemaining(n);
            if (!p.isConsumed()) {
                throw limited(p, "this request needs " + n + " tokens and tenant '" + tenant + "' has "
                        + Math.max(0, p.getRemainingTokens()) + " of its " + tokensPerMinute
                        + " tokens per minute left (engram.security.rate-limit.tokens-per-minute)");
            }
        }

        @Override
        public void giveBack(long n) {
            if (tokens != null && n > 0) tokens.addTokens(n);
        }

        private static EngramException limited(ConsumptionProbe p, String detail) {
            long seconds = Math.max(1, (p.getNanosToWaitForRefill() + 999_999_999L) / 1_000_000_000L);
            return new EngramException(ProblemType.RATE_LIMITED, detail + "; retry in " + seconds + " s", seconds);
        }
    }
}
