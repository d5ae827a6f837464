/*
 * Control's side of the replication history (docs/replication.md
 * "History").  Shards report the bytes each disk made durable in the
 * cache or applied to its replica about once a second (deltas, so a
 * restarted shard never makes a total go back); they add up here until
 * the next sample, when one hist.sample call writes them with every
 * disk's achieved RPO and adds them to the disk's totals in
 * disk_state.  /metrics is those totals plus what is still here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "havend.h"
#include "hist.h"
#include "log.h"
#include "util.h"

struct hist_disk {
	char			*machine_id;
	char			*disk;
	uint64_t		 rx, ap;	/* not yet in a sample */
	uint64_t		 rx_fly, ap_fly; /* in the sample under way */
	struct hist_disk	*next;
};

static struct hist_disk	*hdisks;
static struct event	*hist_ev;
static int64_t		 last_sample;
static int		 sampling;	/* a hist.sample call is under way */

static struct hist_disk *
hist_disk_get(const char *mid, const char *disk)
{
	struct hist_disk	*h;

	for (h = hdisks; h != NULL; h = h->next)
		if (strcmp(h->machine_id, mid) == 0 &&
		    strcmp(h->disk, disk) == 0)
			return h;
	h = xcalloc(1, sizeof(*h));
	h->machine_id = xstrdup(mid);
	h->disk = xstrdup(disk);
	h->next = hdisks;
	hdisks = h;
	return h;
}

void
hist_bytes_event(json_t *ev)
{
	const char		*id = json_string_value(json_object_get(ev,
				    "disk"));
	json_int_t		 rx = json_integer_value(json_object_get(ev,
				    "received"));
	json_int_t		 ap = json_integer_value(json_object_get(ev,
				    "applied"));
	struct hist_disk	*h;
	const char		*colon;
	char			*mid;

	if (id == NULL || (colon = strchr(id, ':')) == NULL || colon == id ||
	    colon[1] == '\0' || rx < 0 || ap < 0) {
		log_warnx("a bytes event without a '<machine id>:<disk>' or "
		    "with negative counts");
		return;
	}
	mid = xstrndup(id, (size_t)(colon - id));
	h = hist_disk_get(mid, colon + 1);
	free(mid);
	h->rx += (uint64_t)rx;
	h->ap += (uint64_t)ap;
}

/* Sampling. */

static void
hist_sampled(json_t *res, const char *err, void *arg)
{
	struct hist_disk	**pp, *h;

	(void)arg;
	sampling = 0;
	for (pp = &hdisks; (h = *pp) != NULL; ) {
		/* Not written: they go with the next sample. */
		if (err != NULL) {
			h->rx += h->rx_fly;
			h->ap += h->ap_fly;
		}
		h->rx_fly = h->ap_fly = 0;
		if (h->rx == 0 && h->ap == 0) {
			*pp = h->next;
			free(h->machine_id);
			free(h->disk);
			free(h);
		} else
			pp = &h->next;
	}
	if (err != NULL)
		log_warnx("replication history sample not written (its bytes "
		    "go with the next one): %s", err);
	else if (json_integer_value(json_object_get(res, "pruned")) > 0)
		log_debug("replication history: %lld samples past %d days "
		    "dropped", (long long)json_integer_value(json_object_get(
		    res, "pruned")), HIST_KEEP_S / 86400);
}

static void
hist_sample(void)
{
	struct hist_disk	*h;
	json_t			*disks = json_array();
	int64_t			 now = now_unix();
	int64_t			 iv = last_sample ? now - last_sample :
				    hv.conf.history_interval;

	if (sampling || !control_db_up()) {
		json_decref(disks);
		return;
	}
	if (iv < 1)
		iv = 1;
	for (h = hdisks; h != NULL; h = h->next) {
		h->rx_fly = h->rx;
		h->ap_fly = h->ap;
		h->rx = h->ap = 0;
		if (h->rx_fly != 0 || h->ap_fly != 0)
			json_array_append_new(disks, json_pack("{s:s, s:s, "
			    "s:I, s:I}", "machine_id", h->machine_id, "disk",
			    h->disk, "bytes_in", (json_int_t)h->rx_fly,
			    "bytes_applied", (json_int_t)h->ap_fly));
	}
	sampling = 1;
	last_sample = now;
	db_call("hist.sample", json_pack("{s:I, s:I, s:o}", "at",
	    (json_int_t)now, "interval_s", (json_int_t)iv, "disks", disks),
	    hist_sampled, NULL);
}

static void
hist_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct timeval	tv = { hv.conf.history_interval, 0 };

	(void)fd;
	(void)ev;
	(void)arg;
	hist_sample();
	evtimer_add(hist_ev, &tv);
}

void
hist_start(struct event_base *base)
{
	struct timeval	tv = { hv.conf.history_interval, 0 };

	if (hist_ev == NULL)
		hist_ev = evtimer_new(base, hist_cb, NULL);
	evtimer_add(hist_ev, &tv);
}

void
hist_reload(void)
{
	struct timeval	tv = { hv.conf.history_interval, 0 };

	if (hist_ev != NULL)
		evtimer_add(hist_ev, &tv);
}

/* GET /api/v1/machines/{id}/history?hours=N */

static void
hist_series_reply(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;

	if (err == NULL)
		api_reply(r, 200, json_incref(res));
	else if (strncmp(err, "no machine", 10) == 0)
		api_error(r, 404, "not_found", "%s", err);
	else if (strncmp(err, "database unavailable", 20) == 0)
		api_error(r, 503, "database_unavailable", "%s", err);
	else
		api_error(r, 500, "database_error", "%s", err);
}

void
api_machine_history(struct api_req *r)
{
	const struct evhttp_uri	*u = evhttp_request_get_evhttp_uri(r->req);
	const char		*q = u != NULL ? evhttp_uri_get_query(u) : NULL;
	const char		*v = NULL;
	struct evkeyvalq	 kv;
	long long		 hours = 24;
	char			*end, *bad = NULL;

	TAILQ_INIT(&kv);
	if (q != NULL && evhttp_parse_query_str(q, &kv) == -1) {
		api_error(r, 400, "bad_query", "the query string is malformed: "
		    "send ?hours=N (1 to %d)", HIST_HOURS_MAX);
		return;
	}
	if ((v = evhttp_find_header(&kv, "hours")) != NULL) {
		hours = strtoll(v, &end, 10);
		if (*v == '\0' || *end != '\0' || strspn(v, "0123456789") !=
		    strlen(v) || hours < 1 || hours > HIST_HOURS_MAX)
			bad = xstrdup(v);
	}
	evhttp_clear_headers(&kv);
	if (bad != NULL) {
		api_error(r, 400, "bad_hours", "hours must be a whole number "
		    "from 1 to %d (history is kept %d days), not '%.40s'",
		    HIST_HOURS_MAX, HIST_KEEP_S / 86400, bad);
		free(bad);
		return;
	}
	db_call("hist.series", json_pack("{s:s, s:I, s:I}", "machine_id",
	    r->params[0], "hours", (json_int_t)hours, "sample_s",
	    (json_int_t)hv.conf.history_interval), hist_series_reply, r);
}

/* /metrics. */

/* A label value as the text format wants it: \\, \" and \n escaped. */
static char *
m_label(const char *s)
{
	struct fbuf	b;

	fbuf_init(&b);
	for (; s != NULL && *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fbuf_add(&b, "\\", 1);
		if (*s == '\n')
			fbuf_add(&b, "\\n", 2);
		else
			fbuf_add(&b, s, 1);
	}
	fbuf_add(&b, "", 1);
	return (char *)b.data;
}

struct m_series {
	const char	*name;
	const char	*type;
	const char	*help;
	const char	*key;		/* in hist.disks' answer */
	int		 which;		/* 1: add rx, 2: add ap, 0: as is */
};

static const struct m_series m_series[] = {
	{ "haven_disk_received_bytes_total", "counter",
	  "Data bytes of the disk made durable in this process server's "
	  "cache (payload, no framing or zero runs). Kept in the database; "
	  "a restart of havend's control process may lose up to one "
	  "history_interval of counting.", "bytes_received", 1 },
	{ "haven_disk_applied_bytes_total", "counter",
	  "Data bytes of the disk applied to its replica on this master "
	  "target. Kept in the database; a restart of havend's control "
	  "process may lose up to one history_interval of counting.",
	  "bytes_applied", 2 },
	{ "haven_disk_rpo_seconds", "gauge",
	  "Achieved RPO of the disk: age of the newest recovery point "
	  "applied on it (absent before its first point).", "rpo_s", 0 },
};

void
hist_metrics(struct fbuf *b, json_t *res)
{
	const struct m_series	*ms;
	struct hist_disk	*h;
	json_t			*d, *v;
	size_t			 i, k;
	char			*mid, *host, *disk;
	uint64_t		 n;

	if (!json_is_array(json_object_get(res, "disks")))
		return;
	for (k = 0; k < nitems(m_series); k++) {
		ms = &m_series[k];
		fbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", ms->name, ms->help,
		    ms->name, ms->type);
		json_array_foreach(json_object_get(res, "disks"), i, d) {
			if (!json_is_integer(v = json_object_get(d, ms->key)))
				continue;
			n = (uint64_t)json_integer_value(v);
			for (h = hdisks; ms->which != 0 && h != NULL;
			    h = h->next) {
				if (strcmp(h->machine_id, json_string_value(
				    json_object_get(d, "machine_id"))) != 0 ||
				    strcmp(h->disk, json_string_value(
				    json_object_get(d, "disk"))) != 0)
					continue;
				n += ms->which == 1 ? h->rx + h->rx_fly :
				    h->ap + h->ap_fly;
			}
			mid = m_label(json_string_value(json_object_get(d,
			    "machine_id")));
			host = m_label(json_string_value(json_object_get(d,
			    "hostname")));
			disk = m_label(json_string_value(json_object_get(d,
			    "disk")));
			fbuf_printf(b, "%s{machine=\"%s\",host=\"%s\",disk=\"%s\"} "
			    "%llu\n", ms->name, mid, host, disk,
			    (unsigned long long)n);
			free(mid);
			free(host);
			free(disk);
		}
	}
}
