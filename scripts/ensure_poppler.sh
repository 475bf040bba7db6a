#!/usr/bin/env bash
# pdftoppm (poppler-utils) renders the monthly report's first page in the test suite.
# Installed only when missing, with apt-get (Debian/Ubuntu; needs root, as in CI).
set -euo pipefail
command -v pdftoppm >/dev/null 2>&1 && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "pdftoppm is missing: install poppler-utils" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get install -y --no-install-recommends poppler-utils >/dev/null 2>&1 \
  || { $SUDO apt-get update -qq && $SUDO apt-get install -y --no-install-recommends poppler-utils; }
