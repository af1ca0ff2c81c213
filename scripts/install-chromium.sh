#!/bin/sh
# Install headless Chromium and its WebDriver server (Debian packages `chromium` and
# `chromium-driver`), which the browser tests of the operator pages (docs/hmi.md) drive through
# chromedriver. Debian's packages only: the tests never download a browser of their own.
# With them a CJK font (`fonts-wqy-microhei`, small), so the HMI's zh-CN pages render in the
# screenshots a failing test keeps. Idempotent and quiet: does nothing when all are there.
set -eu

if [ -x /usr/bin/chromium ] && command -v chromedriver >/dev/null 2>&1 \
    && [ -d /usr/share/fonts/truetype/wqy ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium: no apt-get here; install chromium and chromium-driver by hand" >&2
    exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet.
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-wqy-microhei >/dev/null 2>&1 || {
    $SUDO apt-get update -qq >/dev/null
    $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-wqy-microhei >/dev/null
}
[ -x /usr/bin/chromium ] || { echo "chromium missing after install" >&2; exit 1; }
command -v chromedriver >/dev/null 2>&1 || { echo "chromedriver missing after install" >&2; exit 1; }
