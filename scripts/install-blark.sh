#!/bin/sh
# Install blark, the IEC 61131-3 Structured Text parser (PyPI package `blark`, TwinCAT 3 flavour),
# used by simulators/tests/plc_program.rs to parse the reference PLC program in docs/plc/.
#
# Into its own virtual environment, so nothing else's Python packages change and no root is needed:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/tracemark/blark/bin/blark
# which is where the test looks (after $TRACEMARK_BLARK, before PATH). The version is pinned; the
# script is idempotent: with that version already there it only prints where.
set -eu

BLARK_VERSION=0.8.3
PYTHON=${PYTHON:-python3}
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/tracemark/blark"
BLARK="$VENV/bin/blark"

if [ -x "$BLARK" ] && [ "$("$BLARK" --version 2>/dev/null)" = "$BLARK_VERSION" ]; then
    echo "blark $BLARK_VERSION: $BLARK"
    exit 0
fi

# A venv left half-made by an interrupted run, or holding another version, is made again.
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "blark==$BLARK_VERSION"

installed=$("$BLARK" --version)
if [ "$installed" != "$BLARK_VERSION" ]; then
    echo "blark: installed $installed, expected $BLARK_VERSION" >&2
    exit 1
fi
echo "blark $BLARK_VERSION: $BLARK"
