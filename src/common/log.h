/* Logging: stderr in the foreground, syslog otherwise. */
#ifndef HAVEN_LOG_H
#define HAVEN_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void	log_init(const char *ident, int foreground, int level);
void	log_procname(const char *name);	/* "control", "shard 2", ... */
int	log_level_parse(const char *s);	/* -1 if unknown */
void	log_setlevel(int level);
int	log_getlevel(void);

/* log_warn appends strerror(errno); log_warnx does not. */
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Start-up failures and broken invariants only: logs and exits 1. */
void	fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
