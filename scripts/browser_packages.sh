#!/bin/sh
# Installs the Debian packages the console's browser tests need (headless Chromium, CJK fonts so
# screenshots show Chinese), only when missing. Playwright drives /usr/bin/chromium: it never
# downloads a browser of its own.
set -e
missing=""
for package in chromium fonts-noto-cjk; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
# A fresh image has no package lists yet.
if [ -z "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v -e lock -e partial -e auxfiles)" ]; then
    $SUDO apt-get update
fi
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
