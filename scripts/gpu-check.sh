#!/usr/bin/env bash
# Engram GPU check: build the CUDA jar, run the oracle tests on the GPU, bench the 0.1B shape, all figures in one file.
#
#   scripts/gpu-check.sh                 # on a CUDA host (driver for CUDA 12.8; libtorch 2.7.1 cu128 is fetched by DJL)
#   scripts/gpu-check.sh --dry-run       # anywhere: the same steps on the CPU engine through the NDArray-only path
#                                        # (engram.scheduler.cpu-decode-kernels=false), small sizes, no CUDA build
#
# Output: $OUT_FILE (default gpu-check-<host>-<date>.txt): nvidia-smi, the test summary, the bench tables.
# Budget: about 3-5 minutes on an H100 with a warm Maven cache (first build: + the libtorch download, ~2.5 GB).
# Needs: JDK 17, Maven (or ./mvnw), network for the first run (Maven Central, DJL's libtorch cu128 build).
set -euo pipefail
cd "$(dirname "$0")/.."

DRY=0
[[ "${1:-}" == "--dry-run" ]] && DRY=1
OUT_FILE="${OUT_FILE:-gpu-check-$(hostname)-$(date -u +%Y%m%dT%H%M%SZ).txt}"
MVN="${MVN:-mvn}"
ORACLE_TESTS="Rwkv7OracleTest,Rwkv7DevicePathTest,Rwkv7BatchDecodeTest,RetNetOracleTest,RetNetBatchDecodeTest"
JVM="--add-modules jdk.incubator.vector -Dai.djl.offline=false"

log() { echo "$*" | tee -a "$OUT_FILE"; }
: > "$OUT_FILE"
log "# Engram GPU check, $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
log "uptime: $(uptime)"

if (( DRY )); then
  log "mode: DRY RUN on the CPU engine (NDArray-only path forced); no GPU involved"
  export ENGRAM_DEVICE=cpu ENGRAM_SCHEDULER_CPUDECODEKERNELS=false
  BUILD_FLAGS=""
  BENCH_MODEL=(--model models/demo)
  BENCH_DEVICE=(--device cpu --ndarray-path)
  BENCH_SIZES=(--runs 2 --prime-tokens 256 --decode-tokens 8 --streams 4,16)
else
  command -v nvidia-smi >/dev/null || { echo "nvidia-smi not found: not a CUDA host (use --dry-run)" >&2; exit 2; }
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee -a "$OUT_FILE"
  export ENGRAM_DEVICE="${ENGRAM_DEVICE:-cuda}" PYTORCH_FLAVOR=cu128
  # -Dengram.cuda leaves the CPU libtorch out: DJL then downloads (once) and loads libtorch 2.7.1 cu128.
  BUILD_FLAGS="-Dengram.cuda"
  BENCH_MODEL=(--random-0.1b)
  BENCH_DEVICE=(--device "$ENGRAM_DEVICE")
  BENCH_SIZES=(--runs 5 --prime-tokens 1024 --decode-tokens 64 --streams 16,64)
fi
log "ENGRAM_DEVICE=$ENGRAM_DEVICE"

log ""
log "## 1. build ($MVN package $BUILD_FLAGS)"
$MVN -B -q -DskipTests $BUILD_FLAGS package 2>&1 | tail -5 | tee -a "$OUT_FILE"
JAR=target/engram.jar
[[ -f "$JAR" ]] || { log "no $JAR"; exit 1; }

if (( ! DRY )); then
  log ""
  log "## 1b. libtorch cu128 into the DJL cache (online once), loaded once"
  java $JVM -jar "$JAR" warmup 2>&1 | grep -vE " (DEBUG) " | tail -3 | tee -a "$OUT_FILE"
fi

log ""
log "## 2. oracle and device-path tests with ENGRAM_DEVICE=$ENGRAM_DEVICE"
# The model tests build their models on Fixtures.device(): ENGRAM_TEST_DEVICE (cpu unless set). With
# -Dengram.cuda the CPU libtorch is off the test classpath, so the tests load the cached cu128 libtorch.
set +e
ENGRAM_TEST_DEVICE="$ENGRAM_DEVICE" $MVN -B $BUILD_FLAGS test -Dtest="$ORACLE_TESTS" -Dsurefire.failIfNoSpecifiedTests=false \
  > target/gpu-check-tests.log 2>&1
TEST_RC=$?
set -e
grep -E "Tests run:|FAIL" target/gpu-check-tests.log | tail -8 | tee -a "$OUT_FILE"
log "tests exit code: $TEST_RC"

log ""
log "## 3. bench ${BENCH_MODEL[*]} ${BENCH_DEVICE[*]} ${BENCH_SIZES[*]}"
java $JVM -jar "$JAR" bench "${BENCH_MODEL[@]}" "${BENCH_DEVICE[@]}" "${BENCH_SIZES[@]}" --no-http 2>&1 \
  | grep -vE " (INFO|WARN|DEBUG) " | tee -a "$OUT_FILE"
log ""
log "uptime after: $(uptime)"
log "figures in $OUT_FILE"
exit $TEST_RC
