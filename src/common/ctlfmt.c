#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctlfmt.h"
#include "util.h"

void
ctlfmt_table_init(struct ctlfmt_table *t, size_t ncol, const char *const *head)
{
	size_t	i;

	t->ncol = ncol;
	t->nrow = 1;
	t->cell = xcalloc(ncol, sizeof(char *));
	for (i = 0; i < ncol; i++)
		t->cell[i] = xstrdup(head[i]);
}

void
ctlfmt_table_row(struct ctlfmt_table *t, char **cells)
{
	t->cell = xrealloc(t->cell, (t->nrow + 1) * t->ncol * sizeof(char *));
	memcpy(t->cell + t->nrow * t->ncol, cells, t->ncol * sizeof(char *));
	t->nrow++;
}

void
ctlfmt_table_print(FILE *f, struct ctlfmt_table *t, const char *first,
    const char *indent)
{
	size_t	*w, r, c, len;

	w = xcalloc(t->ncol, sizeof(*w));
	for (r = 0; r < t->nrow; r++)
		for (c = 0; c < t->ncol; c++)
			if ((len = strlen(t->cell[r * t->ncol + c])) > w[c])
				w[c] = len;
	for (r = 0; r < t->nrow; r++) {
		fputs(r == 0 ? first : indent, f);
		for (c = 0; c < t->ncol; c++) {
			if (c + 1 == t->ncol)
				fprintf(f, "%s\n", t->cell[r * t->ncol + c]);
			else
				fprintf(f, "%-*s  ", (int)w[c],
				    t->cell[r * t->ncol + c]);
		}
	}
	free(w);
}

void
ctlfmt_table_free(struct ctlfmt_table *t)
{
	size_t	i;

	for (i = 0; i < t->nrow * t->ncol; i++)
		free(t->cell[i]);
	free(t->cell);
}

void
ctlfmt_duration(int64_t s, char *out, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(out, len, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(out, len, "%lldm %llds", (long long)(s / 60),
		    (long long)(s % 60));
	else if (s < 86400)
		snprintf(out, len, "%lldh %lldm", (long long)(s / 3600),
		    (long long)(s % 3600 / 60));
	else
		snprintf(out, len, "%lldd %lldh", (long long)(s / 86400),
		    (long long)(s % 86400 / 3600));
}

char *
ctlfmt_value(json_t *v)
{
	char	*s;

	if (v == NULL)
		return xstrdup("-");
	switch (json_typeof(v)) {
	case JSON_STRING:
		if (json_string_length(v) == 0)
			break;
		return xstrdup(json_string_value(v));
	case JSON_INTEGER:
		return xasprintf("%lld", (long long)json_integer_value(v));
	case JSON_REAL:
		return xasprintf("%g", json_real_value(v));
	case JSON_TRUE:
		return xstrdup("yes");
	case JSON_FALSE:
		return xstrdup("no");
	case JSON_OBJECT:
	case JSON_ARRAY:
		if ((s = json_dumps(v, JSON_COMPACT)) == NULL)
			break;
		return s;
	case JSON_NULL:
		break;
	}
	return xstrdup("-");
}

/* The key's value as text (malloc'd), trying each name in turn. */
static char *
field(json_t *o, const char *a, const char *b)
{
	json_t	*v = json_object_get(o, a);

	if ((v == NULL || json_is_null(v)) && b != NULL)
		v = json_object_get(o, b);
	return v == NULL ? xstrdup("-") : ctlfmt_value(v);
}

static long long
field_int(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* ISO 8601 UTC ("2026-11-22T04:52:42Z", fraction allowed) to unix. */
static int
parse_time(const char *s, int64_t *t)
{
	struct tm	 tm;
	const char	*end;

	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	if (*end == '.')
		while (*++end >= '0' && *end <= '9')
			;
	if (*end != 'Z' && *end != '\0')
		return -1;
	*t = (int64_t)timegm(&tm);
	return 0;
}

/* A certinfo's expiry day: "2029-11-21". */
static void
cert_day(json_t *ci, char *out, size_t len)
{
	json_t	*v = json_object_get(ci, "not_after");
	char	 iso[32];

	if (json_is_string(v))
		snprintf(out, len, "%.10s", json_string_value(v));
	else if (json_is_integer(v)) {
		fmt_time((int64_t)json_integer_value(v), iso, sizeof(iso));
		snprintf(out, len, "%.10s", iso);
	} else
		snprintf(out, len, "-");
}

static char *
cert_subject(json_t *ci)
{
	const char	*s = json_string_value(json_object_get(ci, "subject"));

	if (s == NULL || *s == '\0')
		return xstrdup("-");
	/* "CN=name" alone reads better as just the name. */
	if (strncmp(s, "CN=", 3) == 0 && strchr(s, ',') == NULL &&
	    strchr(s, '/') == NULL)
		s += 3;
	return xstrdup(s);
}

static void
status_cert(FILE *f, const char *label, json_t *ci)
{
	json_t	*days = json_object_get(ci, "days_left");
	json_t	*warn = json_object_get(ci, "warning");
	char	 day[16], *subj;

	if (!json_is_object(ci)) {
		fprintf(f, "%-12s -\n", label);
		return;
	}
	subj = cert_subject(ci);
	cert_day(ci, day, sizeof(day));
	fprintf(f, "%-12s %s  ", label, subj);
	if (!json_is_integer(days))
		fprintf(f, "expires %s", day);
	else if (json_integer_value(days) < 0)
		fprintf(f, "EXPIRED %s (%lld days ago)", day,
		    -(long long)json_integer_value(days));
	else
		fprintf(f, "expires %s (%lld days)", day,
		    (long long)json_integer_value(days));
	if (json_is_string(warn) && json_string_length(warn) > 0)
		fprintf(f, "   WARNING: %s", json_string_value(warn));
	fputc('\n', f);
	free(subj);
}

static void
status_database(FILE *f, json_t *db)
{
	char	*state, *host, *port, *name, *schema, *since, *err;

	if (!json_is_object(db)) {
		fprintf(f, "database     -\n");
		return;
	}
	state = field(db, "state", NULL);
	host = field(db, "host", NULL);
	port = field(db, "port", NULL);
	name = field(db, "name", NULL);
	schema = field(db, "schema_version", NULL);
	since = field(db, "since", NULL);
	err = field(db, "error", NULL);
	fprintf(f, "database     %s  %s:%s/%s  schema %s", state, host, port,
	    name, schema);
	if (strcmp(state, "up") != 0) {
		if (strcmp(since, "-") != 0)
			fprintf(f, "  since %s", since);
		if (strcmp(err, "-") != 0)
			fprintf(f, "\n             error: %s", err);
	}
	fputc('\n', f);
	free(state);
	free(host);
	free(port);
	free(name);
	free(schema);
	free(since);
	free(err);
}

static void
status_workers(FILE *f, json_t *workers)
{
	static const char *const head[] = { "SLOT", "KIND", "PID", "STATE",
	    "RESTARTS", "LAST EXIT" };
	struct ctlfmt_table	 t;
	json_t			*w;
	char			*row[nitems(head)];
	size_t			 i;

	if (json_array_size(workers) == 0) {
		fprintf(f, "workers      none\n");
		return;
	}
	ctlfmt_table_init(&t, nitems(head), head);
	json_array_foreach(workers, i, w) {
		row[0] = field(w, "slot", NULL);
		row[1] = field(w, "kind", NULL);
		row[2] = field(w, "pid", NULL);
		row[3] = field(w, "state", NULL);
		row[4] = field(w, "restarts", NULL);
		row[5] = field(w, "last_exit", NULL);
		ctlfmt_table_row(&t, row);
	}
	ctlfmt_table_print(f, &t, "workers      ", "             ");
	ctlfmt_table_free(&t);
}

void
ctlfmt_status(FILE *f, json_t *st)
{
	json_t		*roles = json_object_get(st, "roles"), *r, *up;
	json_t		*ports = json_object_get(st, "ports");
	json_t		*m = json_object_get(st, "machines");
	char		*ver, *since, *listen, *pc, *pa, *pd, dur[32];
	size_t		 i;

	ver = field(st, "version", NULL);
	fprintf(f, "Haven %s  roles:", ver);
	if (json_array_size(roles) == 0)
		fputs(" -", f);
	json_array_foreach(roles, i, r)
		fprintf(f, " %s", json_is_string(r) ? json_string_value(r) :
		    "?");
	up = json_object_get(st, "uptime_s");
	since = field(st, "started_at", NULL);
	if (json_is_integer(up)) {
		ctlfmt_duration((int64_t)json_integer_value(up), dur,
		    sizeof(dur));
		fprintf(f, "   up %s (since %s)\n", dur, since);
	} else
		fprintf(f, "   since %s\n", since);

	listen = field(st, "listen_address", NULL);
	pc = field(ports, "control", NULL);
	pa = field(ports, "admin", NULL);
	pd = field(ports, "data", NULL);
	fprintf(f, "listening %s  control %s  admin %s  data %s\n", listen,
	    pc, pa, pd);

	status_cert(f, "certificate", json_object_get(st, "certificate"));
	status_cert(f, "ca", json_object_get(st, "ca"));
	status_database(f, json_object_get(st, "database"));
	if (json_is_object(m))
		fprintf(f, "machines     %lld total: %lld connected, %lld "
		    "disconnected, %lld revoked\n", field_int(m, "total"),
		    field_int(m, "connected"), field_int(m, "disconnected"),
		    field_int(m, "revoked"));
	else
		fprintf(f, "machines     -\n");
	status_workers(f, json_object_get(st, "workers"));
	free(ver);
	free(since);
	free(listen);
	free(pc);
	free(pa);
	free(pd);
}

static void
cert_detail(FILE *f, const char *label, json_t *ci)
{
	json_t	*days = json_object_get(ci, "days_left");
	json_t	*warn = json_object_get(ci, "warning");
	char	*subj, *serial, *fp, *nb, *na;

	if (!json_is_object(ci))
		return;
	subj = cert_subject(ci);
	serial = field(ci, "serial", NULL);
	fp = field(ci, "fingerprint", NULL);
	nb = field(ci, "not_before", NULL);
	na = field(ci, "not_after", NULL);
	fprintf(f, "%s\n", label);
	fprintf(f, "  subject      %s\n", subj);
	fprintf(f, "  serial       %s\n", serial);
	fprintf(f, "  fingerprint  SHA256 %s\n", fp);
	fprintf(f, "  valid        %s to %s", nb, na);
	if (json_is_integer(days) && json_integer_value(days) < 0)
		fprintf(f, " (EXPIRED %lld days ago)",
		    -(long long)json_integer_value(days));
	else if (json_is_integer(days))
		fprintf(f, " (%lld days left)",
		    (long long)json_integer_value(days));
	fputc('\n', f);
	if (json_is_string(warn) && json_string_length(warn) > 0)
		fprintf(f, "  WARNING: %s\n", json_string_value(warn));
	free(subj);
	free(serial);
	free(fp);
	free(nb);
	free(na);
}

void
ctlfmt_cert(FILE *f, json_t *answer)
{
	cert_detail(f, "server certificate", json_object_get(answer,
	    "server"));
	cert_detail(f, "site CA", json_object_get(answer, "ca"));
}

/* "2026-11-22T04:52:42Z" as "12s ago" when it parses. */
static char *
since_text(json_t *v, int64_t now)
{
	char	dur[32];
	int64_t	t;

	if (!json_is_string(v) || parse_time(json_string_value(v), &t) == -1)
		return ctlfmt_value(v);
	if (t > now)
		return xstrdup("just now");
	ctlfmt_duration(now - t, dur, sizeof(dur));
	return xasprintf("%s ago", dur);
}

void
ctlfmt_machines(FILE *f, json_t *answer, int64_t now)
{
	static const char *const head[] = { "ID", "HOSTNAME", "ROLE",
	    "STATUS", "LAST-HEARTBEAT", "ADDRESS" };
	json_t			*ms = json_object_get(answer, "machines"), *m;
	struct ctlfmt_table	 t;
	char			*row[nitems(head)];
	size_t			 i;

	if (json_array_size(ms) == 0) {
		fprintf(f, "no machines enrolled (enroll one with "
		    "'haven-agent enroll' on it; the passphrase is in "
		    "'havenctl passphrase show')\n");
		return;
	}
	ctlfmt_table_init(&t, nitems(head), head);
	json_array_foreach(ms, i, m) {
		row[0] = field(m, "id", NULL);
		row[1] = field(m, "hostname", NULL);
		row[2] = field(m, "role", NULL);
		row[3] = field(m, "status", NULL);
		row[4] = since_text(json_object_get(m, "last_heartbeat"), now);
		row[5] = field(m, "address", NULL);
		ctlfmt_table_row(&t, row);
	}
	ctlfmt_table_print(f, &t, "", "");
	ctlfmt_table_free(&t);
}

void
ctlfmt_jobs(FILE *f, json_t *answer)
{
	static const char *const head[] = { "ID", "KIND", "STATE", "PROGRESS",
	    "STARTED", "MESSAGE" };
	json_t			*js = json_object_get(answer, "jobs"), *j, *p;
	struct ctlfmt_table	 t;
	char			*row[nitems(head)];
	size_t			 i;

	if (json_array_size(js) == 0) {
		fprintf(f, "no jobs\n");
		return;
	}
	ctlfmt_table_init(&t, nitems(head), head);
	json_array_foreach(js, i, j) {
		row[0] = field(j, "id", NULL);
		row[1] = field(j, "kind", "type");
		row[2] = field(j, "state", "status");
		p = json_object_get(j, "percent");
		if (p == NULL)
			p = json_object_get(j, "progress");
		row[3] = json_is_number(p) ? xasprintf("%d%%",
		    (int)json_number_value(p)) : ctlfmt_value(p);
		row[4] = field(j, "started_at", "created_at");
		row[5] = field(j, "message", "error");
		ctlfmt_table_row(&t, row);
	}
	ctlfmt_table_print(f, &t, "", "");
	ctlfmt_table_free(&t);
}

void
ctlfmt_job(FILE *f, json_t *job)
{
	const char	*k;
	json_t		*v;
	size_t		 w = 0;
	char		*s;

	json_object_foreach(job, k, v)
		if (strlen(k) > w)
			w = strlen(k);
	json_object_foreach(job, k, v) {
		s = ctlfmt_value(v);
		fprintf(f, "%-*s  %s\n", (int)w, k, s);
		free(s);
	}
}

void
ctlfmt_duration_short(int64_t s, char *out, size_t len)
{
	static const struct { int64_t n; const char *u; } units[] = {
		{ 86400, "d" }, { 3600, "h" }, { 60, "m" }, { 1, "s" },
	};
	size_t	i, k;
	int	shown = 0;

	if (s < 0)
		s = 0;
	snprintf(out, len, "0s");
	/* The two largest parts, like ctlfmt_duration, zeros left out. */
	for (i = 0; i < nitems(units) && shown < 2; i++) {
		if (shown > 0 || s >= units[i].n) {
			if (s / units[i].n > 0) {
				k = strlen(out) * (shown > 0);
				snprintf(out + k, len - k, "%s%lld%s",
				    shown > 0 ? " " : "",
				    (long long)(s / units[i].n), units[i].u);
			}
			s %= units[i].n;
			shown++;
		}
	}
}

/* Seconds as "15m", 0 as none. */
static char *
field_dur(json_t *o, const char *k, const char *zero)
{
	json_t	*v = json_object_get(o, k);
	char	 buf[32];

	if (!json_is_integer(v))
		return ctlfmt_value(v);
	if (json_integer_value(v) == 0 && zero != NULL)
		return xstrdup(zero);
	ctlfmt_duration_short((int64_t)json_integer_value(v), buf,
	    sizeof(buf));
	return xstrdup(buf);
}

void
ctlfmt_policies(FILE *f, json_t *answer)
{
	static const char *const head[] = { "ID", "NAME", "RPO-THRESHOLD",
	    "RETENTION", "CRASH-INTERVAL", "APP-INTERVAL", "MACHINES" };
	json_t			*ps = json_object_get(answer, "policies"), *p;
	struct ctlfmt_table	 t;
	char			*row[nitems(head)];
	size_t			 i;

	if (json_array_size(ps) == 0) {
		fprintf(f, "no policies (create one with 'havenctl policy "
		    "create NAME')\n");
		return;
	}
	ctlfmt_table_init(&t, nitems(head), head);
	json_array_foreach(ps, i, p) {
		row[0] = field(p, "id", NULL);
		row[1] = field(p, "name", NULL);
		row[2] = field_dur(p, "rpo_threshold_s", NULL);
		row[3] = field_dur(p, "retention_s", NULL);
		row[4] = field_dur(p, "crash_interval_s", NULL);
		row[5] = field_dur(p, "app_consistent_s", "none");
		row[6] = field(p, "machines", NULL);
		ctlfmt_table_row(&t, row);
	}
	ctlfmt_table_print(f, &t, "", "");
	ctlfmt_table_free(&t);
}

void
ctlfmt_policy(FILE *f, json_t *p)
{
	static const struct { const char *key, *label, *zero; } rows[] = {
		{ "rpo_threshold_s", "RPO threshold", NULL },
		{ "retention_s", "retention", NULL },
		{ "crash_interval_s", "crash-consistent every", NULL },
		{ "app_consistent_s", "app-consistent every", "none" },
		{ "thin_after_s", "thin points older than", "never" },
		{ "thin_every_s", "keeping one per", NULL },
	};
	json_t	*ms = json_object_get(p, "machine_list"), *m;
	char	*a, *b;
	size_t	 i;

	a = field(p, "name", NULL);
	b = field(p, "id", NULL);
	fprintf(f, "policy %s (id %s)%s\n", a, b,
	    json_is_true(json_object_get(p, "is_failback")) ?
	    "  failback twin" : "");
	free(a);
	free(b);
	for (i = 0; i < nitems(rows); i++) {
		a = field_dur(p, rows[i].key, rows[i].zero);
		fprintf(f, "  %-24s %s\n", rows[i].label, a);
		free(a);
	}
	a = field(p, "twin", NULL);
	fprintf(f, "  %-24s %s\n", json_is_true(json_object_get(p,
	    "is_failback")) ? "failback twin of" : "failback twin", a);
	free(a);
	if (json_is_array(ms)) {
		fprintf(f, "  %-24s %zu\n", "machines", json_array_size(ms));
		json_array_foreach(ms, i, m) {
			a = field(m, "hostname", NULL);
			b = field(m, "id", NULL);
			fprintf(f, "    %s  %s\n", b, a);
			free(a);
			free(b);
		}
	}
}

static const char *
point_consistency(json_t *p)
{
	const char	*kind = json_string_value(json_object_get(p, "kind"));

	if (json_is_false(json_object_get(p, "crash_consistent")))
		return "none (no snapshot provider)";
	if (kind != NULL && strcmp(kind, "app") == 0)
		return "app-consistent";
	return "crash-consistent";
}

void
ctlfmt_points(FILE *f, json_t *answer)
{
	static const char *const head[] = { "POINT", "TIME", "KIND",
	    "CONSISTENCY" };
	json_t			*ps = json_object_get(answer, "points"), *p;
	json_t			*rpo = json_object_get(answer, "rpo_s");
	json_t			*thr = json_object_get(answer,
				    "rpo_threshold_s");
	struct ctlfmt_table	 t;
	char			*row[nitems(head)], *host, a[32], b[32];
	size_t			 i;

	if (json_array_size(ps) == 0) {
		host = field(answer, "hostname", "machine_id");
		fprintf(f, "no recovery points for %s yet: a point is listed "
		    "once every disk of the machine has it\n", host);
		free(host);
	} else {
		ctlfmt_table_init(&t, nitems(head), head);
		json_array_foreach(ps, i, p) {
			row[0] = field(p, "point_id", NULL);
			row[1] = field(p, "taken_at", NULL);
			row[2] = field(p, "kind", NULL);
			row[3] = xstrdup(point_consistency(p));
			ctlfmt_table_row(&t, row);
		}
		ctlfmt_table_print(f, &t, "", "");
		ctlfmt_table_free(&t);
	}
	if (json_is_integer(thr))
		ctlfmt_duration_short((int64_t)json_integer_value(thr), b,
		    sizeof(b));
	if (json_is_integer(rpo)) {
		ctlfmt_duration_short((int64_t)json_integer_value(rpo), a,
		    sizeof(a));
		if (!json_is_integer(thr))
			fprintf(f, "achieved RPO: %s (no policy: no "
			    "threshold)\n", a);
		else
			fprintf(f, "achieved RPO: %s (threshold %s)%s\n", a, b,
			    json_integer_value(rpo) >
			    json_integer_value(thr) ?
			    "  ABOVE THE THRESHOLD" : "");
	} else if (json_is_integer(thr))
		fprintf(f, "achieved RPO: - (threshold %s)\n", b);
	else
		fprintf(f, "achieved RPO: - (no policy assigned: 'havenctl "
		    "policy assign MACHINE POLICY')\n");
}
