#!/usr/bin/env bash
# Docker HEALTHCHECK: healthy once readiness is UP (every model loaded, not shutting down). Uses bash's /dev/tcp,
# so the image needs neither curl nor wget. The port is the server's (SERVER_PORT, default 8080).
set -euo pipefail
exec 3<>"/dev/tcp/127.0.0.1/${SERVER_PORT:-8080}"
printf 'GET /actuator/health/readiness HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
IFS= read -r -t 5 status <&3
[[ "$status" == "HTTP/1."?" 200"* ]]
