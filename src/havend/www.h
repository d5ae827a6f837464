/* The admin UI's static files, compiled in by tests/lib/embed.sh. */
#ifndef HAVEN_WWW_H
#define HAVEN_WWW_H
#include <stddef.h>
struct www_file {
	const char		*name;
	const char		*type;
	const unsigned char	*data;
	size_t			 len;
	const unsigned char	*gz;		/* the same, gzip -9n */
	size_t			 gzlen;
};
extern const struct www_file www_files[];
#endif
