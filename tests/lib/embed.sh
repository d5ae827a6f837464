#!/bin/sh
# Emit a C file holding the admin UI's static files: www_files[] of
# { name, content-type, bytes, length, gzip bytes, gzip length }.  The
# gzip copy (gzip -9n: no name or time, so builds are reproducible) is
# what havend sends a browser that accepts it: the UI stays quick to
# load over a slow link.
set -e
emit() {	# NAME: a C array of stdin's bytes, NUL-terminated
	printf 'static const unsigned char %s[] = {' "$1"
	od -An -v -tu1 | tr -s ' \n' ',,' | sed 's/^,//; s/,$//'
}
echo '#include <stddef.h>'
echo '#include "www.h"'
i=0
for f in "$@"; do
	emit "f$i" <"$f"
	# The NUL after the last byte needs its comma (none if empty).
	printf '%s0};\n' "$( [ -s "$f" ] && echo , )"
	gzip -9nc "$f" | emit "g$i"
	printf ',0};\n'
	i=$((i + 1))
done
echo 'const struct www_file www_files[] = {'
i=0
for f in "$@"; do
	n=$(basename "$f")
	case "$n" in
	*.html) t="text/html; charset=utf-8" ;;
	*.css) t="text/css; charset=utf-8" ;;
	*.js) t="application/javascript; charset=utf-8" ;;
	*.svg) t="image/svg+xml" ;;
	*.png) t="image/png" ;;
	*.ico) t="image/x-icon" ;;
	*) t="application/octet-stream" ;;
	esac
	sz=$(wc -c < "$f")
	gz=$(gzip -9nc "$f" | wc -c)
	printf '\t{ "%s", "%s", f%d, %d, g%d, %d },\n' "$n" "$t" "$i" "$sz" \
	    "$i" "$gz"
	i=$((i + 1))
done
echo '	{ NULL, NULL, NULL, 0, NULL, 0 }'
echo '};'
