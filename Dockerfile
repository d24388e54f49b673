# Engram: build with Maven, run on a JRE. libtorch (CPU) ships inside the jar's pytorch-native-cpu dependency and
# is unpacked to DJL_CACHE_DIR on first start; nothing is downloaded at run time.
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY pom.xml .
RUN mvn -B -q dependency:go-offline
COPY src src
RUN mvn -B -q -DskipTests package

FROM eclipse-temurin:17-jre
RUN useradd --system --uid 10001 engram && mkdir -p /app/models /app/.djl && chown -R engram /app
WORKDIR /app
COPY --from=build /src/target/engram.jar /app/engram.jar
USER engram
ENV DJL_OFFLINE=true DJL_CACHE_DIR=/app/.djl ENGRAM_MODELS_DIR=/app/models
EXPOSE 8080
ENTRYPOINT ["java", "--add-modules", "jdk.incubator.vector", "-jar", "/app/engram.jar"]
