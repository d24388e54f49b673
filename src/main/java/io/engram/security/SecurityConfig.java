package io.engram.security;

import io.engram.config.EngramProperties;
import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.engram.tenant.Tenant;
import java.util.List;
import org.apache.catalina.core.StandardHost;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.jackson.autoconfigure.JsonMapperBuilderCustomizer;
import org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Scope;
import org.springframework.core.MethodParameter;
import org.springframework.core.Ordered;
import org.springframework.web.bind.support.WebDataBinderFactory;
import org.springframework.web.context.request.NativeWebRequest;
import org.springframework.web.context.request.RequestAttributes;
import org.springframework.web.cors.CorsConfiguration;
import org.springframework.web.cors.UrlBasedCorsConfigurationSource;
import org.springframework.web.filter.CorsFilter;
import org.springframework.web.method.support.HandlerMethodArgumentResolver;
import org.springframework.web.method.support.ModelAndViewContainer;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;
import tools.jackson.core.StreamReadConstraints;
import tools.jackson.core.json.JsonFactory;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;

/**
 * The servlet filters, in order: access log (outermost, so it sees every final status), CORS (when origins are
 * configured), authentication and request rate, body size. Also the {@link Tenant} controller parameter and the
 * JSON read limits of every request body.
 */
@Configuration(proxyBeanMethods = false)
public class SecurityConfig implements WebMvcConfigurer {

    private static final Logger log = LoggerFactory.getLogger(SecurityConfig.class);

    private final ApiKeys keys;

    public SecurityConfig(EngramProperties props) {
        EngramProperties.Security s = props.security();
        this.keys = ApiKeys.load(s.apiKeys(), s.apiKeysFile());
        if (keys.enabled()) {
            log.info("Authentication on: {} API key(s) for tenant(s) {}", keys.entries().size(),
                    keys.entries().stream().map(ApiKeys.Entry::tenant).distinct().toList());
        } else {
            log.warn("Authentication off (engram.security.api-keys is empty): every request is tenant 'default'");
        }
    }

    @Bean
    ApiKeys apiKeys() {
        return keys;
    }

    @Bean
    RateLimits rateLimits(EngramProperties props) {
        return new RateLimits(keys, props.security().rateLimit());
    }

    @Bean
    FilterRegistrationBean<AccessLogFilter> engramAccessLogFilter(EngramProperties props, ObjectMapper json) {
        var r = new FilterRegistrationBean<>(new AccessLogFilter(json));
        r.setOrder(Ordered.HIGHEST_PRECEDENCE + 10);
        r.setEnabled(props.security().accessLog());
        return r;
    }

    @Bean
    FilterRegistrationBean<CorsFilter> engramCorsFilter(EngramProperties props) {
        EngramProperties.Cors c = props.security().cors();
        CorsConfiguration cfg = new CorsConfiguration();
        for (String o : c.allowedOrigins()) {
            if (o.contains("*")) cfg.addAllowedOriginPattern(o);
            else cfg.addAllowedOrigin(o);
        }
        cfg.setAllowedMethods(List.of("GET", "POST", "DELETE"));
        cfg.setAllowedHeaders(List.of("Authorization", "Content-Type"));
        cfg.setExposedHeaders(List.of("Location", "Retry-After", "ETag", "WWW-Authenticate"));
        cfg.setAllowCredentials(false);
        cfg.setMaxAge(c.maxAgeSeconds());
        UrlBasedCorsConfigurationSource source = new UrlBasedCorsConfigurationSource();
        source.registerCorsConfiguration("/v1/**", cfg);
        var r = new FilterRegistrationBean<>(new CorsFilter(source));
        r.setOrder(Ordered.HIGHEST_PRECEDENCE + 20);
        r.setEnabled(!c.allowedOrigins().isEmpty());
        return r;
    }

    @Bean
    FilterRegistrationBean<SecurityFilter> engramSecurityFilter(RateLimits limits, ObjectMapper json) {
        var r = new FilterRegistrationBean<>(new SecurityFilter(keys, limits, json));
        r.setOrder(Ordered.HIGHEST_PRECEDENCE + 30);
        return r;
    }

    @Bean
    FilterRegistrationBean<BodyLimitFilter> engramBodyLimitFilter(EngramProperties props, ObjectMapper json) {
        var r = new FilterRegistrationBean<>(new BodyLimitFilter(props.limits().maxBodyBytes(), json));
        r.setOrder(Ordered.HIGHEST_PRECEDENCE + 40);
        return r;
    }

    /** Tomcat's own error pages (for requests refused before Spring) as problem details: {@link ProblemErrorReportValve}. */
    @Bean
    WebServerFactoryCustomizer<TomcatServletWebServerFactory> engramTomcatErrorPages() {
        return f -> f.addContextCustomizers(ctx -> {
            if (ctx.getParent() instanceof StandardHost host) {
                host.setErrorReportValveClass(ProblemErrorReportValve.class.getName());
            }
        });
    }

    /**
     * The JSON mapper of requests and responses, with read limits: nesting depth
     * ({@code engram.limits.max-json-depth}), document and string length (the body limit), number length and
     * property-name length. Replaces Spring Boot's builder only to give it this factory; every
     * {@link JsonMapperBuilderCustomizer} (snake_case, problem details, ...) is still applied, in order.
     */
    @Bean
    @Scope("prototype")
    JsonMapper.Builder jsonMapperBuilder(EngramProperties props, ObjectProvider<JsonMapperBuilderCustomizer> customizers) {
        long max = props.limits().maxBodyBytes();
        StreamReadConstraints limits = StreamReadConstraints.builder()
                .maxNestingDepth(props.limits().maxJsonDepth())
                .maxDocumentLength(max)
                .maxStringLength((int) Math.min(Integer.MAX_VALUE, max))
                .maxNumberLength(MAX_NUMBER_LENGTH)
                .maxNameLength(MAX_NAME_LENGTH)
                .build();
        JsonMapper.Builder b = JsonMapper.builder(JsonFactory.builder().streamReadConstraints(limits).build());
        customizers.orderedStream().forEach(c -> c.customize(b));
        return b;
    }

    /** Digits of one JSON number (a long has 19; a double needs 17 significant digits plus an exponent). */
    static final int MAX_NUMBER_LENGTH = 64;
    /** Characters of one JSON property name. */
    static final int MAX_NAME_LENGTH = 256;

    @Override
    public void addArgumentResolvers(List<HandlerMethodArgumentResolver> resolvers) {
        resolvers.add(new TenantResolver(keys));
    }

    /** A controller parameter of type {@link Tenant}: the one the {@link SecurityFilter} put on the request. */
    static final class TenantResolver implements HandlerMethodArgumentResolver {
        private final ApiKeys keys;

        TenantResolver(ApiKeys keys) {
            this.keys = keys;
        }

        @Override
        public boolean supportsParameter(MethodParameter p) {
            return p.getParameterType() == Tenant.class;
        }

        @Override
        public Object resolveArgument(MethodParameter p, ModelAndViewContainer mav, NativeWebRequest req,
                                      WebDataBinderFactory binders) {
            Object t = req.getAttribute(SecurityFilter.TENANT, RequestAttributes.SCOPE_REQUEST);
            if (t instanceof Tenant tenant) return tenant;
            if (!keys.enabled()) return Tenant.DEFAULT;
            throw new EngramException(ProblemType.UNAUTHORIZED, "send an API key as 'Authorization: Bearer <key>'");
        }
    }
}
