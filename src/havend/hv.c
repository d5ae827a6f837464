/*
 * The daemon's process-wide state and its configuration reload.  Every
 * havend process (parent, control, db, shards, jobs) holds one `hv`;
 * they live here, not in havend.c, so that the role code in libhavend.a
 * links on its own (unit tests, haven-setup).
 */
#include <string.h>

#include "havend.h"
#include "log.h"

struct havend hv;

/*
 * Re-read the config.  Keys marked CONF_RELOAD take their new values;
 * the others keep the running ones, so that every process agrees with
 * the sockets and shards that exist (the parent logs which need a
 * restart).
 */
int
havend_reload_conf(int verbose)
{
	struct haven_conf	 nc;
	struct conf_errors	 errs = { NULL, 0 };
	const struct conf_key	*k;
	size_t			 i;

	memset(&nc, 0, sizeof(nc));
	if (haven_conf_load(hv.conf_path, &nc, &errs) != 0) {
		for (i = 0; i < errs.n; i++)
			log_warnx("%s:%d: %s", hv.conf_path, errs.v[i].line,
			    errs.v[i].msg);
		log_warnx("configuration not reloaded: fix the errors above "
		    "(havend -n -f %s checks it); the running configuration "
		    "stays", hv.conf_path);
		conf_errors_free(&errs);
		haven_conf_free(&nc);
		return -1;
	}
	for (k = haven_conf_keys; k->name != NULL; k++) {
		if (!conf_differs(k, &hv.conf, &nc))
			continue;
		if (k->flags & CONF_RELOAD) {
			if (verbose)
				log_info("reload: %s changed; applied",
				    k->name);
		} else {
			if (verbose)
				log_warnx("reload: %s changed; it takes "
				    "effect when havend is restarted", k->name);
			conf_swap_key(k, &nc, &hv.conf);
		}
	}
	haven_conf_free(&hv.conf);
	hv.conf = nc;
	log_setlevel(log_level_parse(hv.conf.log_level));
	return 0;
}
