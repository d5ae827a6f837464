#!/bin/sh
# Emit a C file holding the admin UI's static files: www_files[] of
# { name, content-type, bytes, length }.
set -e
echo '#include <stddef.h>'
echo '#include "www.h"'
i=0
for f in "$@"; do
	printf 'static const unsigned char f%d[] = {' "$i"
	od -An -v -tu1 "$f" | tr -s ' \n' ',,' | sed 's/^,//; s/,$//'
	# The NUL after the last byte needs its comma (none if empty).
	printf '%s0};\n' "$( [ -s "$f" ] && echo , )"
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
	printf '\t{ "%s", "%s", f%d, %d },\n' "$n" "$t" "$i" "$sz"
	i=$((i + 1))
done
echo '	{ NULL, NULL, NULL, 0 }'
echo '};'
