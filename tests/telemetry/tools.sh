#!/usr/bin/env bash
# Installs what the two telemetry tests that a plain `cargo test` leaves out
# need (tests/integration/telemetry.rs):
#   - promtool, from Debian's `prometheus` package (the server is not
#     started), for `promtool_backfills_the_metrics_file`;
#   - the official OpenTelemetry protobuf definitions (the
#     `opentelemetry-proto` Python package, with protobuf) in a throwaway
#     virtualenv at target/otlp-venv, for
#     `otlp_file_parses_with_the_official_protobuf_definitions`.
# CI runs this script and then those tests explicitly:
#   cargo test --release --test integration -- --ignored telemetry::
# Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/../.."
if command -v promtool >/dev/null 2>&1; then
  echo "tools.sh: promtool already installed ($(promtool --version 2>&1 | head -n 1))"
else
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  # Only promtool is wanted: where nothing forbids it yet, a policy-rc.d
  # keeps the package's install from starting the server.
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod +x "$policy"
  fi
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  if [ -n "$policy" ]; then $sudo rm -f "$policy"; fi
  echo "tools.sh: installed $(promtool --version 2>&1 | head -n 1)"
fi
venv=target/otlp-venv
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import opentelemetry.proto.trace.v1.trace_pb2" 2>/dev/null; then
  echo "tools.sh: $venv already has opentelemetry-proto"
else
  mkdir -p target
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "opentelemetry-proto==1.45.2"
  echo "tools.sh: $venv has opentelemetry-proto $("$venv/bin/python" -c 'from importlib.metadata import version; print(version("opentelemetry-proto"))')"
fi
