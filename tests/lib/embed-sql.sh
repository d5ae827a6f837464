#!/bin/sh
# Emit a C file holding the schema migrations: sql_files[] of
# { name, text, length } in the order given (the Makefile sorts them).
set -e
echo '#include <stddef.h>'
echo '#include "sqlfiles.h"'
i=0
for f in "$@"; do
	# Signed bytes: the array is char, and values over 127 would
	# overflow it.
	printf 'static const char s%d[] = {' "$i"
	od -An -v -td1 "$f" | tr -s ' \n' ',,' | sed 's/^,//; s/,$//'
	printf '%s0};\n' "$( [ -s "$f" ] && echo , )"
	i=$((i + 1))
done
echo 'const struct sql_file sql_files[] = {'
i=0
for f in "$@"; do
	printf '\t{ "%s", s%d, %d },\n' "$(basename "$f")" "$i" \
	    "$(wc -c < "$f")"
	i=$((i + 1))
done
echo '	{ NULL, NULL, 0 }'
echo '};'
