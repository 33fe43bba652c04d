#!/bin/sh
# The two commands of the README quick start, and what CI runs.
#
#   ./dev.sh demo    install missing Debian packages, build, run ocellus on samples/sample.pcap
#                    (IPFIX file build/sample.ipfix plus JSON lines and a summary on the terminal)
#   ./dev.sh check   install missing Debian packages, build, run every test (make check)
#   ./dev.sh deps    only install missing Debian packages (CI adds the sanitizer toolchain)
#
# Environment: BUILDDIR (default build), CC, OC_CONFIGURE_FLAGS (extra configure flags),
# OC_EXTRA_PACKAGES (more Debian packages to install).
set -eu

top=$(cd "$(dirname "$0")" && pwd)
builddir=${BUILDDIR:-build}
case $builddir in /*) ;; *) builddir=$top/$builddir ;; esac

packages="gcc make autoconf automake libtool pkg-config libpcap-dev libglib2.0-dev nettle-dev
libcmocka-dev python3 g++ python3-dev python3-pytest python3-setuptools python3-wheel tshark libfixbuf-dev libfixbuf-tools nfdump iproute2 ${OC_EXTRA_PACKAGES:-}"

install_missing() {
    missing=""
    for p in $packages; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing="$missing $p"
        fi
    done
    [ -z "$missing" ] && return 0
    echo "dev.sh: installing Debian packages:$missing"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
}

build() {
    if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ]; then
        (cd "$top" && ./autogen.sh)
    fi
    mkdir -p "$builddir"
    cd "$builddir"
    flags="${OC_CONFIGURE_FLAGS:-}"
    # Reconfigure when the flags differ from the last run, so one build dir never mixes them.
    if [ ! -f Makefile ] || [ "$(cat .oc-configure-flags 2>/dev/null)" != "$flags ${CC:-}" ]; then
        # shellcheck disable=SC2086
        "$top/configure" $flags ${CC:+CC="$CC"} >configure.out 2>&1 || {
            cat configure.out; echo "dev.sh: configure failed" >&2; exit 1; }
        echo "$flags ${CC:-}" >.oc-configure-flags
    fi
    make -j"$(nproc 2>/dev/null || echo 2)" >make.out 2>&1 || {
        cat make.out; echo "dev.sh: build failed" >&2; exit 1; }
    grep -E 'warning:' make.out || true
}

case ${1:-} in
deps)
    install_missing
    ;;
demo)
    install_missing
    build
    # From the build tree the templates are read from the source tree, not the install dir.
    export OCELLUS_TEMPLATE_DIR="$top/templates"
    echo "dev.sh: flows of samples/sample.pcap: IPFIX into $builddir/sample.ipfix, JSON lines here:"
    "$builddir/src/ocellus" -r "$top/samples/sample.pcap" -o "file:$builddir/sample.ipfix" -o json:-
    echo "dev.sh: read the IPFIX file back with: ipfixDump --in $builddir/sample.ipfix"
    ;;
check)
    install_missing
    build
    rc=0
    make -j"$(nproc 2>/dev/null || echo 2)" check || rc=$?
    if [ $rc -ne 0 ]; then
        for log in $(find . -name '*.log' ! -name 'test-suite.log' ! -name 'config.log'); do
            trs=${log%.log}.trs
            if [ -f "$trs" ] && grep -q ':test-result: FAIL\|:test-result: ERROR' "$trs"; then
                echo "===== $log"; tail -n 60 "$log"
            fi
        done
    fi
    pass=$(cat $(find . -name '*.trs') | grep -c ':test-result: PASS' || true)
    fail=$(cat $(find . -name '*.trs') | grep -c ':test-result: \(FAIL\|ERROR\|XPASS\)' || true)
    echo "dev.sh: $pass passed, $fail failed"
    exit $rc
    ;;
*)
    echo "usage: $0 demo|check|deps" >&2
    exit 2
    ;;
esac
