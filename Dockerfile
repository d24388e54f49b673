# Engram, CPU image. Build:  docker build -t engram .     Run:  docker run -p 8080:8080 -v $PWD/models:/app/models engram
#
# Stage 1 builds the jar with Maven. Stage 2 is a JRE: it runs as a non-root user, and libtorch (CPU, shipped in
# the jar's pytorch-native-cpu dependency) is unpacked into DJL_CACHE_DIR at build time by `engram.jar warmup`, so
# the container starts offline and never writes to its cache. The GPU image is Dockerfile.cuda.
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY pom.xml .
RUN mvn -B -q dependency:go-offline
COPY src src
COPY models/demo models/demo
RUN mvn -B -q -DskipTests package

FROM eclipse-temurin:17-jre
RUN groupadd --system --gid 10001 engram \
 && useradd --system --uid 10001 --gid engram --home-dir /app --no-create-home --shell /usr/sbin/nologin engram \
 && mkdir -p /app/models /app/.djl \
 && chown engram:engram /app/models
WORKDIR /app
COPY --from=build /src/target/engram.jar /app/engram.jar
COPY deploy/docker/healthcheck.sh /app/healthcheck.sh
ENV DJL_OFFLINE=true DJL_CACHE_DIR=/app/.djl ENGRAM_MODELS_DIR=/app/models SERVER_PORT=8080
# Unpack libtorch and the JNI library now (as root: the cache stays read-only for the engram user).
RUN java --add-modules jdk.incubator.vector -jar /app/engram.jar warmup
USER 10001:10001
EXPOSE 8080
# Readiness is UP once every model is loaded: a large checkpoint may take minutes, hence the long start period.
HEALTHCHECK --interval=15s --timeout=6s --start-period=10m --retries=3 CMD ["/app/healthcheck.sh"]
# SIGTERM: readiness DOWN, new requests 503, running streams finish (spring.lifecycle.timeout-per-shutdown-phase).
STOPSIGNAL SIGTERM
ENTRYPOINT ["java", "--add-modules", "jdk.incubator.vector", "-XX:+ExitOnOutOfMemoryError", "-jar", "/app/engram.jar"]
