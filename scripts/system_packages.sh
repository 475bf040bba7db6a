#!/usr/bin/env bash
# Debian packages the test suite needs beyond Python: libzbar0 (zbar, which pyzbar loads to read the
# emulator's QR codes) and poppler-utils (pdftoppm renders the monthly report's first page). Installs
# only what is missing; a machine without apt or root is told what to do.
set -euo pipefail
PACKAGES=(libzbar0 poppler-utils)
missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "Install these system packages: ${missing[*]}" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "Installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
