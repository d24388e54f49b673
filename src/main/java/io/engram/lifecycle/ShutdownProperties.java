package io.engram.lifecycle;

import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * {@code engram.shutdown.*}: how Engram stops.
 *
 * @param drainDelay how long, once shutdown begins, the listener stays open with readiness DOWN and new API
 *                   requests answered 503, before the graceful shutdown of the web server starts (so that a load
 *                   balancer that polls readiness stops sending traffic first). On Kubernetes the pod's
 *                   {@code preStop} sleep does this job; 0 skips it.
 */
@ConfigurationProperties("engram.shutdown")
public record ShutdownProperties(@DefaultValue("0s") Duration drainDelay) {}
