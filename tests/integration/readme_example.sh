#!/bin/sh
# The README's example program must compile against the public header alone (no GLib, no
# internal headers) and run against the library: the README is part of the API.
set -eu
: "${top_srcdir:?}" "${top_builddir:?}" "${CC:?}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/oc-readme.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
awk '/^```c$/ {on = 1; next} /^```$/ {on = 0} on' "$top_srcdir/README.md" >"$tmp/example.c"
[ -s "$tmp/example.c" ] || { echo "readme_example: no C example in README.md" >&2; exit 1; }
# shellcheck disable=SC2086
$CC -std=c11 -Wall -Wextra -Werror ${OC_SAN_CFLAGS:-} -I"$top_srcdir/src/include" \
    "$tmp/example.c" -o "$tmp/example" -L"$top_builddir/src/.libs" -locellus \
    -Wl,-rpath,"$top_builddir/src/.libs"
"$tmp/example"
echo "readme_example: 1 passed, 0 failed"
