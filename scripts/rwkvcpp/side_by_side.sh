#!/usr/bin/env bash
# Engram and rwkv.cpp on the same random 0.1B RWKV-7, alternated round by round so that a neighbour's load falls
# on both alike. Steps to build rwkv.cpp, convert and quantize the checkpoint: README.md beside this script.
#   bash scripts/rwkvcpp/side_by_side.sh [ROUNDS]       (from the repo root, after mvn -B -DskipTests package)
# Engram's model folder: java --add-modules jdk.incubator.vector -jar target/engram.jar bench --write-random-0.1b /tmp/r01/rwkv7-0.1b-random
set -euo pipefail
ROUNDS=${1:-2}
MODEL=${ENGRAM_MODEL:-/tmp/r01/rwkv7-0.1b-random}
RWKVCPP=${RWKVCPP:-/tmp/rwkvcpp}
for r in $(seq "$ROUNDS"); do
  echo "=== round $r, $(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
  java --add-modules jdk.incubator.vector -jar target/engram.jar bench --model "$MODEL" --runs 5 \
       --prime-tokens 1024 --decode-tokens 64 --no-http --formats bfloat16,int8 2>&1 \
    | grep -E '^\| (priming|single-stream)|^run '
  for f in FP32 FP16 Q8_0; do
    echo "--- rwkv.cpp $f"
    "$RWKVCPP/bench_rwkvcpp" "$RWKVCPP/models/rwkv7-0.1b-random-$f.bin" --threads 2 --runs 5 \
        --prime-tokens 1024 --decode-tokens 64 2>&1 | grep -E '^run |^\| (priming|single)'
  done
done
