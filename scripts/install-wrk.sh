#!/bin/sh
# Install wrk (Debian package `wrk`), the HTTP load generator the public lookup's bench drives
# (`cargo bench -p tracemark --bench lookup`; docs/performance.md "Public lookup (issue 17)").
# Debian's package only. Idempotent and quiet: does nothing when wrk is there.
set -eu

if command -v wrk >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "wrk: no apt-get here; install wrk by hand" >&2
    exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet.
$SUDO apt-get install -y -qq --no-install-recommends wrk >/dev/null 2>&1 || {
    $SUDO apt-get update -qq >/dev/null
    $SUDO apt-get install -y -qq --no-install-recommends wrk >/dev/null
}
command -v wrk >/dev/null 2>&1 || { echo "wrk missing after install" >&2; exit 1; }
