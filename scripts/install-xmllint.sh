#!/bin/sh
# Install xmllint (Debian package `libxml2-utils`), which the EPCIS export tests validate XML
# documents with against the official XSD (schemas/epcis/XSD). Idempotent and quiet: does
# nothing when xmllint is already there.
set -eu

if command -v xmllint >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "xmllint: no apt-get here; install libxml2's xmllint by hand" >&2
    exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
# A fresh machine has no package lists yet.
$SUDO apt-get install -y -qq libxml2-utils >/dev/null 2>&1 || {
    $SUDO apt-get update -qq >/dev/null
    $SUDO apt-get install -y -qq libxml2-utils >/dev/null
}
command -v xmllint >/dev/null 2>&1 || { echo "xmllint missing after install" >&2; exit 1; }
