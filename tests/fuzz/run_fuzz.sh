#!/bin/sh
# make fuzz: runs every libFuzzer target of the build (tests/fuzz/fuzz_NAME, built with
# --enable-fuzzing) on its committed corpus (tests/fuzz/corpus/NAME), one target after the
# other, on one core.
#
#   FUZZ_TIME=S      seconds per target (default 60)
#   FUZZ_RUNS=N      instead of a time: N inputs per target with a fixed seed (FUZZ_SEED,
#                    default 1), so that CI gives the same result on every run;
#                    FUZZ_RUNS_NAME=N sets it for target NAME (targets differ 100-fold in speed)
#   FUZZ_TARGETS     names to run (default: every fuzz_* binary that has a corpus)
#   PCAPS            the shared capture corpus: fuzz_capfile also starts from pieces of it
#
# New inputs that reach new code go to BUILDDIR/tests/fuzz/new/NAME, never into the source
# tree: copy the ones worth keeping into the corpus by hand (a crash input always is, once
# fixed). A crash, a sanitizer report, a leak or a timeout leaves its input as
# BUILDDIR/tests/fuzz/crash-NAME-* and fails the run; every target still runs first.
set -u
top_srcdir=${1:?usage: run_fuzz.sh SRCDIR BUILDDIR}
top_builddir=${2:?usage: run_fuzz.sh SRCDIR BUILDDIR}
FUZZ_TIME=${FUZZ_TIME:-60}
FUZZ_SEED=${FUZZ_SEED:-1}

targets=${FUZZ_TARGETS:-}
if [ -z "$targets" ]; then
    for bin in "$top_builddir"/tests/fuzz/fuzz_*; do
        [ -x "$bin" ] && [ -f "$bin" ] || continue
        name=${bin##*/fuzz_}
        [ -d "$top_srcdir/tests/fuzz/corpus/$name" ] && targets="$targets $name"
    done
fi
[ -n "$targets" ] || { echo "run_fuzz: no fuzz target built" >&2; exit 1; }

status=0
for name in $targets; do
    bin=$top_builddir/tests/fuzz/fuzz_$name
    corpus=$top_srcdir/tests/fuzz/corpus/$name
    new=$top_builddir/tests/fuzz/new/$name
    [ -x "$bin" ] || { echo "run_fuzz: $bin not built" >&2; status=1; continue; }
    mkdir -p "$new"
    eval "runs=\${FUZZ_RUNS_$name:-\${FUZZ_RUNS:-}}"
    if [ -n "$runs" ]; then
        limit="-runs=$runs -seed=$FUZZ_SEED"
        what="$runs runs, seed $FUZZ_SEED"
    else
        limit="-max_total_time=$FUZZ_TIME"
        what="$FUZZ_TIME s"
    fi
    extra=
    if [ "$name" = capfile ] && [ -d "${PCAPS:-}" ]; then
        # Pieces of the real captures, cut here since the shared corpus stays out of git.
        extra=$top_builddir/tests/fuzz/seeds/capfile
        "${PYTHON3:-python3}" "$top_srcdir/tests/fuzz/make_capfile_seeds.py" --from "$PCAPS" \
            "$extra" >/dev/null || extra=
    fi
    echo "run_fuzz: fuzz_$name ($what)"
    log=$top_builddir/tests/fuzz/fuzz_$name.fuzzlog
    # The first corpus directory receives new inputs; the committed one is only read.
    # shellcheck disable=SC2086
    if "$bin" $limit -timeout=60 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$top_builddir/tests/fuzz/crash-$name-" "$new" "$corpus" $extra \
        >"$log" 2>&1; then
        grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "$log" | tail -n 2
    else
        echo "run_fuzz: fuzz_$name FAILED (log: $log):" >&2
        grep -v '^#[0-9]' "$log" | tail -n 40 >&2
        status=1
    fi
done
exit $status
