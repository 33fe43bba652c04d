# Shared helpers for the integration tests; source it, then call oc_init NAME.
#
# Environment (set by AM_TESTS_ENVIRONMENT in Makefile.am): OCELLUS (the command under
# test), PCAPS (the shared capture corpus), PYTHON3, top_srcdir, top_builddir.
#
# After oc_init:
#   OC_TMP         a fresh directory under the build tree, removed when the script exits
#   OC_PIDS        background processes to kill on exit (append with OC_PIDS="$OC_PIDS $!")
#   fail MSG       prints "NAME: FAIL: MSG" on stderr and exits 1
#   note MSG       prints "NAME: MSG" on stdout
#   need_pcaps     fails (never skips) when $PCAPS is not a directory
#   oc_run ARGS    runs "$OCELLUS" ARGS with stdout in $OC_OUT and stderr in $OC_ERR;
#                  the exit status is in $OC_RC
#   summary_value LABEL   the number after "ocellus: LABEL: " in $OC_ERR (summary lines)

oc_init() {
    OC_NAME=$1
    : "${top_builddir:=.}"
    : "${PYTHON3:=python3}"
    [ -n "${OCELLUS:-}" ] || fail "OCELLUS is not set (run through make check)"
    [ -x "$OCELLUS" ] || fail "$OCELLUS is not an executable"
    mkdir -p "$top_builddir/tests/integration" || fail "cannot create the test directory"
    OC_TMP=$(mktemp -d "$top_builddir/tests/integration/$OC_NAME.XXXXXX") ||
        fail "cannot create a temporary directory"
    OC_PIDS=
    trap oc_cleanup EXIT
    OC_OUT=$OC_TMP/stdout
    OC_ERR=$OC_TMP/stderr
}

oc_cleanup() {
    for pid in $OC_PIDS; do
        kill "$pid" 2>/dev/null
    done
    rm -rf "$OC_TMP"
}

fail() {
    echo "${OC_NAME:-test}: FAIL: $*" >&2
    exit 1
}

note() {
    echo "${OC_NAME:-test}: $*"
}

need_pcaps() {
    [ -n "${PCAPS:-}" ] || fail "PCAPS is not set"
    [ -d "$PCAPS" ] || fail "the shared capture corpus $PCAPS does not exist"
}

oc_run() {
    OC_RC=0
    "$OCELLUS" "$@" >"$OC_OUT" 2>"$OC_ERR" || OC_RC=$?
}

summary_value() {
    sed -n "s/^ocellus: $1: \([0-9][0-9]*\).*/\1/p" "$OC_ERR" | tail -n 1
}
