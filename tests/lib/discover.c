/*
 * Test driver for src/common/vsphere.c and virt.c: runs one discovery
 * and prints its JSON on stdout, or the cause on stderr and exits 1.
 *
 *	discover thumbprint HOST PORT
 *	discover check HOST PORT USER THUMBPRINT	(password: $HAVEN_PASSWORD)
 *	discover vsphere HOST PORT USER THUMBPRINT [PAGE]
 *	discover libvirt URI
 *	discover define URI FILE.xml
 *	discover gone OLD.json NEW.json	machines of OLD missing in NEW
 *
 * vsphere and libvirt also print "discovered N machines in S s (R/s)"
 * on stderr, for tests/bench.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "util.h"
#include "virt.h"
#include "vsphere.h"

struct cmd {
	const char	*name;
	int		 minargs;
	int		 maxargs;
	int		(*fn)(char **, int, json_t **, char **);
};

static void
vs_opts(struct vsphere_opts *o, char **argv)
{
	memset(o, 0, sizeof(*o));
	o->host = argv[0];
	o->port = atoi(argv[1]);
	o->username = argv[2];
	o->password = getenv("HAVEN_PASSWORD");
	o->thumbprint = argv[3];
	o->connect_timeout_s = 5;
}

static int
cmd_thumbprint(char **argv, int argc, json_t **out, char **cause)
{
	char	*t;

	(void)argc;
	if (vsphere_thumbprint(argv[0], atoi(argv[1]), 5, &t, cause) == -1)
		return -1;
	*out = json_string(t);
	free(t);
	return 0;
}

static int
cmd_check(char **argv, int argc, json_t **out, char **cause)
{
	struct vsphere_opts	o;

	(void)argc;
	vs_opts(&o, argv);
	return vsphere_check(&o, out, cause);
}

static int
cmd_vsphere(char **argv, int argc, json_t **out, char **cause)
{
	struct vsphere_opts	o;

	vs_opts(&o, argv);
	if (argc > 4)
		o.page_size = atoi(argv[4]);
	return vsphere_discover(&o, out, cause);
}

static int
cmd_libvirt(char **argv, int argc, json_t **out, char **cause)
{
	struct virt_opts	o = { argv[0], NULL, NULL };

	(void)argc;
	return virt_discover(&o, out, cause);
}

static int
cmd_define(char **argv, int argc, json_t **out, char **cause)
{
	struct virt_opts	 o = { argv[0], NULL, NULL };
	char			*xml;
	int			 ret;

	(void)argc;
	if ((xml = read_file(argv[1], NULL, cause)) == NULL)
		return -1;
	ret = virt_define(&o, xml, cause);
	free(xml);
	if (ret == 0)
		*out = json_string("defined");
	return ret;
}

/* The key a machine keeps across discoveries. */
static const char *
machine_key(json_t *vm)
{
	json_t	*k = json_object_get(vm, "instance_uuid");

	if (!json_is_string(k))
		k = json_object_get(vm, "id");
	return json_string_value(k);
}

static int
cmd_gone(char **argv, int argc, json_t **out, char **cause)
{
	json_t		*old, *cur, *seen, *vm;
	json_error_t	 err;
	size_t		 i;
	const char	*k;

	(void)argc;
	if ((old = json_load_file(argv[0], 0, &err)) == NULL ||
	    (cur = json_load_file(argv[1], 0, &err)) == NULL) {
		set_cause(cause, "%s", err.text);
		json_decref(old);
		return -1;
	}
	seen = json_object();
	json_array_foreach(json_object_get(cur, "vms"), i, vm)
		if ((k = machine_key(vm)) != NULL)
			json_object_set_new(seen, k, json_true());
	*out = json_array();
	json_array_foreach(json_object_get(old, "vms"), i, vm)
		if ((k = machine_key(vm)) != NULL &&
		    json_object_get(seen, k) == NULL)
			json_array_append(*out, json_object_get(vm, "name"));
	json_decref(seen);
	json_decref(old);
	json_decref(cur);
	return 0;
}

static const struct cmd cmds[] = {
	{ "thumbprint",	2, 2, cmd_thumbprint },
	{ "check",	4, 4, cmd_check },
	{ "vsphere",	4, 5, cmd_vsphere },
	{ "libvirt",	1, 1, cmd_libvirt },
	{ "define",	2, 2, cmd_define },
	{ "gone",	2, 2, cmd_gone },
};

int
main(int argc, char **argv)
{
	const struct cmd	*c = NULL;
	json_t			*out = NULL, *vms;
	char			*cause = NULL;
	uint64_t		 t0;
	double			 s;
	size_t			 i;

	log_init("discover", 1, getenv("HAVEN_DEBUG") ? LOG_LVL_DEBUG :
	    LOG_LVL_WARN);
	for (i = 0; argc > 1 && i < nitems(cmds); i++)
		if (strcmp(cmds[i].name, argv[1]) == 0)
			c = &cmds[i];
	if (c == NULL || argc - 2 < c->minargs || argc - 2 > c->maxargs) {
		fprintf(stderr, "usage: discover thumbprint|check|vsphere|"
		    "libvirt|define|gone ARGS (see tests/lib/discover.c)\n");
		return 2;
	}
	t0 = now_ms();
	if (c->fn(argv + 2, argc - 2, &out, &cause) == -1) {
		fprintf(stderr, "%s\n", cause != NULL ? cause : "failed");
		free(cause);
		return 1;
	}
	s = (double)(now_ms() - t0) / 1000.0;
	if ((vms = json_object_get(out, "vms")) != NULL)
		fprintf(stderr, "discovered %zu machines in %.3f s (%.0f/s)\n",
		    json_array_size(vms), s, s > 0 ?
		    (double)json_array_size(vms) / s : 0.0);
	if (json_dumpf(out, stdout, JSON_COMPACT | JSON_ENCODE_ANY) == -1)
		fatalx("cannot write the answer");
	putchar('\n');
	json_decref(out);
	return 0;
}
