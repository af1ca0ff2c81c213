#!/usr/bin/env bash
# Build (and optionally run) the cargo-fuzz targets of a crate's fuzz/ directory (codes/fuzz by
# default, drivers/fuzz with --crate drivers, controller/fuzz with --crate controller,
# simulators/fuzz with --crate simulators) on the
# stable toolchain: the sanitizer-coverage
# instrumentation libFuzzer needs is plain LLVM codegen options.
#   scripts/fuzz.sh [--crate CRATE] build                 # build every target (CI does this)
#   scripts/fuzz.sh [--crate CRATE] run TARGET [SECONDS]  # fuzz one target, default 60 s,
#                                                         # corpus in CRATE/fuzz/corpus/TARGET
set -euo pipefail
crate=codes
if [ "${1:-}" = "--crate" ]; then
    crate=${2:?usage: scripts/fuzz.sh --crate codes|drivers|controller|simulators build | run TARGET [SECONDS]}
    shift 2
fi
if [ ! -f "$(dirname "$0")/../$crate/fuzz/Cargo.toml" ]; then
    echo "no fuzz targets in $crate/fuzz" >&2
    exit 2
fi
cd "$(dirname "$0")/../$crate/fuzz"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps RUSTFLAGS off build scripts and proc macros, which must not be
# instrumented (they would need the libFuzzer runtime to link).
triple=$(rustc -vV | sed -n 's/^host: //p')
case "${1:-build}" in
    build)
        cargo build --release --target "$triple" --bins
        ;;
    run)
        target=${2:?usage: scripts/fuzz.sh [--crate CRATE] run TARGET [SECONDS]}
        seconds=${3:-60}
        cargo build --release --target "$triple" --bin "$target"
        mkdir -p "corpus/$target" "artifacts/$target"
        "$CARGO_TARGET_DIR/$triple/release/$target" "corpus/$target" -max_total_time="$seconds" \
            -max_len=512 -artifact_prefix="artifacts/$target/"
        ;;
    *)
        echo "usage: scripts/fuzz.sh [--crate CRATE] build | run TARGET [SECONDS]" >&2
        exit 2
        ;;
esac
