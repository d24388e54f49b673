#!/usr/bin/env bash
# After editing engram-rules.yml, refresh its two copies (tests fail while they differ):
#   helm/engram/files/engram-rules.yml            (the chart's PrometheusRule reads it with .Files.Get)
#   k8s/components/monitoring/prometheusrule.yaml (kustomize cannot wrap a file into a custom resource)
set -euo pipefail
cd "$(dirname "$0")/../.."
cp deploy/prometheus/engram-rules.yml helm/engram/files/engram-rules.yml
{
  echo "# Generated from deploy/prometheus/engram-rules.yml by deploy/prometheus/sync-rules.sh (a test keeps them equal)."
  echo "apiVersion: monitoring.coreos.com/v1"
  echo "kind: PrometheusRule"
  echo "metadata:"
  echo "  name: engram"
  echo "spec:"
  grep -v '^#' deploy/prometheus/engram-rules.yml | sed -e 's/^\(.\)/  \1/'
} > k8s/components/monitoring/prometheusrule.yaml
