#!/usr/bin/env bash
# Installs headless Chromium (Debian's `chromium` package, about 45 s) when it
# is missing, for the report's browser test in tests/integration/report.rs
# (`report_renders_in_headless_chromium`, ignored by a plain `cargo test`).
# CI runs this script and then that test explicitly:
#   cargo test --release -- --ignored report_renders_in_headless_chromium
# Safe to run again: it does nothing when chromium is installed.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "browser.sh: $(chromium --version 2>/dev/null || echo chromium) already installed"
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq chromium >/dev/null
echo "browser.sh: installed $(chromium --version 2>/dev/null || echo chromium)"
