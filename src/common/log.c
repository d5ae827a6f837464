#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/time.h>

#include "log.h"

static int	 log_fg = 1;
static int	 log_lvl = LOG_LVL_INFO;
static char	 log_ident[32] = "haven";
static char	 log_proc[32] = "";

static const char *const log_names[] = { "error", "warning", "info", "debug" };

void
log_init(const char *ident, int foreground, int level)
{
	snprintf(log_ident, sizeof(log_ident), "%s", ident);
	log_fg = foreground;
	log_lvl = level;
	if (!log_fg)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_procname(const char *name)
{
	snprintf(log_proc, sizeof(log_proc), "%s", name);
}

int
log_level_parse(const char *s)
{
	size_t	i;

	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++)
		if (strcmp(s, log_names[i]) == 0)
			return (int)i;
	if (strcmp(s, "warn") == 0)
		return LOG_LVL_WARN;
	return -1;
}

void
log_setlevel(int level)
{
	log_lvl = level;
}

int
log_getlevel(void)
{
	return log_lvl;
}

static void
log_vemit(int lvl, const char *fmt, va_list ap, int with_errno)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char		 msg[4096];
	int		 saved = errno;
	size_t		 len;

	if (lvl > log_lvl)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, ": %s", strerror(saved));
	}
	if (log_fg) {
		struct timeval	tv;
		struct tm	tm;
		char		ts[32];

		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03dZ %s[%d]%s%s%s %s: %s\n", ts,
		    (int)(tv.tv_usec / 1000), log_ident, (int)getpid(),
		    log_proc[0] ? " (" : "", log_proc, log_proc[0] ? ")" : "",
		    log_names[lvl], msg);
		fflush(stderr);
	} else
		syslog(prio[lvl], "%s%s%s", log_proc, log_proc[0] ? ": " : "",
		    msg);
	errno = saved;
}

#define LOG_FN(name, lvl, err)					\
void								\
name(const char *fmt, ...)					\
{								\
	va_list	ap;						\
	va_start(ap, fmt);					\
	log_vemit(lvl, fmt, ap, err);				\
	va_end(ap);						\
}
LOG_FN(log_warn, LOG_LVL_WARN, 1)
LOG_FN(log_warnx, LOG_LVL_WARN, 0)
LOG_FN(log_error, LOG_LVL_ERROR, 0)
LOG_FN(log_info, LOG_LVL_INFO, 0)
LOG_FN(log_debug, LOG_LVL_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vemit(LOG_LVL_ERROR, fmt, ap, 1);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vemit(LOG_LVL_ERROR, fmt, ap, 0);
	va_end(ap);
	exit(1);
}
