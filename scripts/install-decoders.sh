#!/bin/sh
# Install independent barcode decoders used by the symbol round-trip tests:
#   - zxing-cpp (Python bindings, PyPI package `zxing-cpp`), required by scripts/zxing_decode.py
#   - libdmtx's dmtxread (Debian package `dmtx-utils`), optional, with --with-dmtx
# Idempotent and quiet: does nothing when the decoders are already present.
set -eu

PYTHON=${PYTHON:-python3}

if "$PYTHON" -c "import zxingcpp" 2>/dev/null; then
    :
else
    "$PYTHON" -m pip install --quiet --disable-pip-version-check zxing-cpp
    "$PYTHON" -c "import zxingcpp" || { echo "zxing-cpp failed to import after install" >&2; exit 1; }
fi

if [ "${1:-}" = "--with-dmtx" ] && ! command -v dmtxread >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        SUDO=""
        [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        $SUDO apt-get install -y -qq dmtx-utils >/dev/null
    else
        echo "dmtx-utils: no apt-get here; install libdmtx's dmtxread by hand" >&2
    fi
fi
