#!/bin/sh
# make check wrapper for tests/python/test_ocellus.py: runs Debian's pytest under the
# interpreter the module was built for ($OC_PYTHON, /usr/bin/python3), with the uninstalled
# module on PYTHONPATH (a staging directory pairing python/ocellus/__init__.py from the source
# tree with the freshly linked .libs/_ocellus.so).
#
# In a sanitizer build the module carries ASan/UBSan instrumentation but the interpreter does
# not, so the sanitizer runtime is preloaded (OC_ASAN_PRELOAD tells the tests). Leak detection
# at exit is off for the interpreter, which leaves memory behind by design; the leak test in
# test_ocellus.py checks the module's own allocations mid-run instead.
set -eu
: "${top_srcdir:?}" "${top_builddir:?}"
py=${OC_PYTHON:-/usr/bin/python3}
if ! "$py" -c 'import pytest' 2>/dev/null; then
    echo "run_pytest: pytest is missing for $py (apt-get install python3-pytest)" >&2
    exit 77
fi
so=$top_builddir/python/ocellus/.libs/_ocellus.so
[ -f "$so" ] || { echo "run_pytest: $so was not built" >&2; exit 1; }
stage=$top_builddir/python/stage
rm -rf "$stage"
mkdir -p "$stage/ocellus"
ln -s "$top_srcdir/python/ocellus/__init__.py" "$stage/ocellus/__init__.py"
ln -s "$so" "$stage/ocellus/_ocellus.so"

case " ${OC_SAN_CFLAGS:-} " in
*-fsanitize=address*)
    rt=$(${CC:-cc} -print-file-name=libclang_rt.asan-x86_64.so)
    [ -f "$rt" ] || rt=$(${CC:-cc} -print-file-name=libasan.so)
    [ -f "$rt" ] || { echo "run_pytest: no ASan runtime for ${CC:-cc}" >&2; exit 77; }
    export LD_PRELOAD="$rt" OC_ASAN_PRELOAD="$rt"
    export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1}:detect_leaks=0:verify_asan_link_order=0"
    ;;
esac
export PYTHONPATH="$stage"
export PYTHONDONTWRITEBYTECODE=1
cd "$top_builddir"
exec "$py" -m pytest -q -p no:cacheprovider "$top_srcdir/tests/python/test_ocellus.py" "$@"
