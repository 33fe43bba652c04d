#!/bin/sh
# Replays the committed fuzz corpora through the fuzz targets (make check).
#
# The targets are either libFuzzer binaries (--enable-fuzzing) or the plain replay program
# (tests/fuzz/replay.c). Both take corpus directories as arguments; -runs=0 makes libFuzzer
# execute each input once and exit, and the replay program ignores dash options, so the same
# command line works for both. A crash or sanitizer report fails the test.
set -u

: "${top_srcdir:?top_srcdir must be set (make check sets it)}"
: "${top_builddir:?top_builddir must be set (make check sets it)}"

status=0
ran=0

replay() {
    name=$1
    corpus=$top_srcdir/tests/fuzz/corpus/$2
    bin=$top_builddir/tests/fuzz/$name
    if [ ! -d "$corpus" ]; then
        echo "replay_corpus: $corpus missing, skipping $name"
        return 0
    fi
    if [ ! -x "$bin" ]; then
        echo "replay_corpus: $bin not built" >&2
        status=1
        return 0
    fi
    echo "replay_corpus: $name < $corpus"
    if "$bin" -runs=0 "$corpus"; then
        ran=$((ran + 1))
    else
        echo "replay_corpus: $name FAILED on $corpus" >&2
        status=1
    fi
}

replay fuzz_decode decode
replay fuzz_engine engine
replay fuzz_cfg cfg
replay fuzz_template template
replay fuzz_capfile capfile
replay fuzz_dpi dpi
# fuzz_capfile also gets the first few KB of every shared capture, cut at run time (the shared
# corpus stays out of our git history).
if [ -d "${PCAPS:-}" ] && [ -x "$top_builddir/tests/fuzz/fuzz_capfile" ]; then
    seeds=$top_builddir/tests/fuzz/seeds/capfile
    if "${PYTHON3:-python3}" "$top_srcdir/tests/fuzz/make_capfile_seeds.py" --from "$PCAPS" \
        "$seeds" && "$top_builddir/tests/fuzz/fuzz_capfile" -runs=0 "$seeds"; then
        ran=$((ran + 1))
    else
        echo "replay_corpus: fuzz_capfile FAILED on $seeds" >&2
        status=1
    fi
fi

if [ "$status" -eq 0 ] && [ "$ran" -eq 0 ]; then
    echo "replay_corpus: no corpus replayed" >&2
    exit 1
fi
exit "$status"
