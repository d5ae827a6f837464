/*
 * What shards report (relayed by the parent): recovery points that
 * became complete, a cache that filled up or has room again, records
 * refused as corrupt.  Each becomes a row: a point, or an alert that
 * the dashboard shows and that clears itself when the cause is gone.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "control.h"
#include "hist.h"
#include "log.h"
#include "repl.h"
#include "util.h"

struct event_kind {
	const char	*name;
	const char	*alert;		/* alert key prefix, NULL: none */
	const char	*severity;	/* NULL: clears the alert */
};

static const struct event_kind event_kinds[] = {
	{ "cache_full", "cache_full", "warning" },
	{ "cache_ok", "cache_full", NULL },
	{ "cache_error", "cache_error", "critical" },
	{ "cache_lost", "cache_lost", "critical" },
	{ "cache_corrupt", "corrupt", "critical" },
	{ "record_corrupt", "corrupt", "critical" },
	{ "cache_recovered", NULL, NULL },
	{ NULL, NULL, NULL }
};

void
control_shard_event(json_t *ev)
{
	const struct event_kind	*k;
	const char		*name, *disk, *msg;
	char			*key;

	name = json_string_value(json_object_get(ev, "event"));
	if (name == NULL)
		return;
	if (strcmp(name, "point") == 0) {
		repl_point_event(ev);
		return;
	}
	if (strcmp(name, "bytes") == 0) {
		hist_bytes_event(ev);
		return;
	}
	for (k = event_kinds; k->name != NULL; k++)
		if (strcmp(k->name, name) == 0)
			break;
	if (k->name == NULL) {
		log_debug("unknown shard event '%s'", name);
		return;
	}
	disk = json_string_value(json_object_get(ev, "disk"));
	msg = json_string_value(json_object_get(ev, "message"));
	log_info("%s: %s", name, msg ? msg : "");
	if (k->alert == NULL || disk == NULL)
		return;
	key = xasprintf("%s:%s", k->alert, disk);
	if (k->severity != NULL)
		db_call("alert.raise", json_pack("{s:s, s:s, s:s}", "key", key,
		    "severity", k->severity, "message", msg ? msg : name),
		    NULL, NULL);
	else
		db_call("alert.clear", json_pack("{s:s}", "key", key), NULL,
		    NULL);
	free(key);
}
