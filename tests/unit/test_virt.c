/*
 * virt.c: facts from a domain XML, and the test:///default driver
 * (in-process, no daemon) end to end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "util.h"
#include "virt.h"

static char *
data(const char *name)
{
	char	dir[1024], *p, *path, *text, *cause = NULL;

	snprintf(dir, sizeof(dir), "%s", __FILE__);
	if ((p = strrchr(dir, '/')) != NULL)
		*p = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	path = xasprintf("%s/data/%s", dir, name);
	if ((text = read_file(path, NULL, &cause)) == NULL)
		fail_msg("%s", cause);
	free(path);
	return text;
}

static const char *
str(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : "(not a string)";
}

static json_int_t
num(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static void
test_parse_domain(void **state)
{
	json_t	*vm, *disks, *d, *nics, *n;
	char	*xml, *cause = NULL;

	(void)state;
	xml = data("virt_domain.xml");
	vm = virt_parse_domain(xml, &cause);
	assert_non_null(vm);
	assert_string_equal(str(vm, "name"), "web01");
	assert_string_equal(str(vm, "id"),
	    "4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
	assert_string_equal(str(vm, "instance_uuid"),
	    "4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
	assert_string_equal(str(vm, "bios_uuid"),
	    "00000000-1111-2222-3333-444444444444");
	assert_string_equal(str(vm, "guest_id"), "http://debian.org/debian/12");
	assert_int_equal(num(vm, "cpus"), 2);
	assert_int_equal(num(vm, "memory_mb"), 2048);

	disks = json_object_get(vm, "disks");
	assert_int_equal(json_array_size(disks), 4);	/* no cdrom */
	d = json_array_get(disks, 0);
	assert_string_equal(str(d, "label"), "vda");
	assert_string_equal(str(d, "file"), "/var/lib/libvirt/images/web01.qcow2");
	assert_string_equal(str(d, "controller"), "virtio");
	assert_string_equal(str(d, "format"), "qcow2");
	assert_true(json_is_true(json_object_get(d, "thin")));
	assert_true(json_is_null(json_object_get(d, "capacity")));
	d = json_array_get(disks, 1);
	assert_string_equal(str(d, "file"), "/dev/vg0/web01-data");
	assert_string_equal(str(d, "backing"), "block");
	assert_string_equal(str(d, "controller"), "scsi");
	assert_string_equal(str(d, "mode"), "shareable");
	assert_int_equal(num(d, "bus"), 0);
	assert_int_equal(num(d, "unit"), 1);
	d = json_array_get(disks, 2);
	assert_string_equal(str(d, "file"),
	    "rbd://ceph1.example.com/pool/web01-logs");
	d = json_array_get(disks, 3);
	assert_string_equal(str(d, "file"), "fast/web01-tmp");
	assert_string_equal(str(d, "datastore"), "fast");

	nics = json_object_get(vm, "nics");
	assert_int_equal(json_array_size(nics), 2);
	n = json_array_get(nics, 0);
	assert_string_equal(str(n, "label"), "vnet3");
	assert_string_equal(str(n, "type"), "virtio");
	assert_string_equal(str(n, "mac"), "52:54:00:6b:3c:58");
	assert_string_equal(str(n, "network"), "default");
	assert_true(json_is_true(json_object_get(n, "connected")));
	n = json_array_get(nics, 1);
	assert_string_equal(str(n, "label"), "net1");
	assert_string_equal(str(n, "network"), "br0");
	assert_true(json_is_false(json_object_get(n, "connected")));

	json_decref(vm);
	free(xml);
	assert_null(virt_parse_domain("<network/>", &cause));
	assert_non_null(cause);
	free(cause);
}

static void
test_test_driver(void **state)
{
	struct virt_opts	 o = { "test:///default", NULL, NULL };
	json_t			*inv, *vm;
	char			*cause = NULL;

	(void)state;
	assert_int_equal(virt_discover(&o, &inv, &cause), 0);
	assert_string_equal(str(json_object_get(inv, "hypervisor"), "type"),
	    "TEST");
	assert_int_equal(json_array_size(json_object_get(inv, "vms")), 1);
	vm = json_array_get(json_object_get(inv, "vms"), 0);
	assert_string_equal(str(vm, "name"), "test");
	assert_string_equal(str(vm, "power_state"), "on");
	assert_string_equal(str(vm, "hypervisor_state"), "running");
	assert_int_equal(num(vm, "cpus"), 2);
	assert_int_equal(json_array_size(json_object_get(vm, "disks")), 1);
	json_decref(inv);
}

static void
test_bad_uris(void **state)
{
	struct virt_opts	 o = { "foo:///bar", NULL, NULL };
	json_t			*inv;
	char			*cause = NULL;

	(void)state;
	assert_int_equal(virt_discover(&o, &inv, &cause), -1);
	assert_non_null(strstr(cause, "'foo' is not one discovery supports"));
	o.uri = "qemu";
	assert_int_equal(virt_discover(&o, &inv, &cause), -1);
	assert_non_null(strstr(cause, "not a libvirt URI"));
	/* A socket in a directory that cannot exist: under a fresh one. */
	char	 tmpl[] = "/tmp/haven-virt.XXXXXX", uri[128];

	assert_non_null(mkdtemp(tmpl));
	snprintf(uri, sizeof(uri), "qemu:///system?socket=%s/none/sock", tmpl);
	o.uri = uri;
	assert_int_equal(virt_discover(&o, &inv, &cause), -1);
	assert_non_null(strstr(cause, "cannot connect to libvirt at"));
	assert_non_null(strstr(cause, "No such file or directory"));
	rmdir(tmpl);
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_domain),
		cmocka_unit_test(test_test_driver),
		cmocka_unit_test(test_bad_uris),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
