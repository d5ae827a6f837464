/*
 * Control's side of retention: every PRUNE_INTERVAL_S (and on demand)
 * ask the database which replicated disks have a policy, run the prune
 * job over them, and delete the rows of the points it dropped.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "control.h"
#include "log.h"
#include "repl.h"
#include "util.h"

#define PRUNE_INTERVAL_S	600

struct prune_run {
	struct api_req	*r;		/* NULL: the periodic run */
};

static int64_t	last_prune;
static int	running;

static void
prune_finish(struct prune_run *pr, json_t *result, const char *error)
{
	running = 0;
	if (pr->r != NULL) {
		if (error != NULL)
			api_error(pr->r, 500, "prune_failed", "pruning failed: "
			    "%s", error);
		else
			api_reply(pr->r, 200, result ? json_incref(result) :
			    json_pack("{s:[]}", "pruned"));
	} else if (error != NULL)
		log_warnx("retention pruning failed: %s", error);
	free(pr);
}

static void
prune_done(uint64_t id, int ok, json_t *result, const char *error, void *arg)
{
	struct prune_run	*pr = arg;
	json_t			*e;
	size_t			 i;

	(void)id;
	if (ok) {
		json_array_foreach(json_object_get(result, "pruned"), i, e) {
			log_info("retention: dropped %zu point%s of %s:%s "
			    "(%lld bytes of journal freed)",
			    json_array_size(json_object_get(e, "points")),
			    json_array_size(json_object_get(e, "points")) == 1 ?
			    "" : "s",
			    json_string_value(json_object_get(e, "machine_id")),
			    json_string_value(json_object_get(e, "disk")),
			    json_integer_value(json_object_get(e,
			    "freed_bytes")));
			db_call("point.prune", json_pack("{s:O, s:O, s:O}",
			    "machine_id", json_object_get(e, "machine_id"),
			    "disk", json_object_get(e, "disk"), "points",
			    json_object_get(e, "points")), NULL, NULL);
		}
	}
	prune_finish(pr, ok ? result : NULL, ok ? NULL : error);
}

static void
prune_planned(json_t *res, const char *err, void *arg)
{
	struct prune_run	*pr = arg;
	json_t			*disks = json_object_get(res, "disks");

	if (err != NULL) {
		prune_finish(pr, NULL, err);
		return;
	}
	if (json_array_size(disks) == 0) {
		prune_finish(pr, NULL, NULL);
		return;
	}
	control_job("prune", json_pack("{s:O}", "disks", disks),
	    pr->r ? pr->r->actor : "retention", prune_done, pr);
}

static void
prune_start(struct api_req *r)
{
	struct prune_run	*pr = xcalloc(1, sizeof(*pr));

	running = 1;
	last_prune = now_unix();
	pr->r = r;
	db_call("prune.plan", NULL, prune_planned, pr);
}

/* From control's periodic timer. */
void
prune_tick(void)
{
	if (!running && now_unix() - last_prune >= PRUNE_INTERVAL_S)
		prune_start(NULL);
}

/* POST /api/v1/prune: now, answering with what was dropped. */
void
api_prune(struct api_req *r)
{
	if (running) {
		api_error(r, 409, "busy", "a prune is already running; try "
		    "again in a moment");
		return;
	}
	audit(r, "prune", NULL, "%s", "retention pruning requested");
	prune_start(r);
}
