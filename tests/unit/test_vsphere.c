/*
 * vsphere.c: parsing of SOAP answers captured from the simulator
 * (tests/lib/vcsim, tests/unit/data/vsphere_*.xml) and of one written in
 * a vCenter's shape with other namespace prefixes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "util.h"
#include "vsphere.h"

/* Data files sit next to this source, whatever the working directory. */
static char *
data(const char *name, size_t *len)
{
	char	dir[1024], *p, *path, *text, *cause = NULL;

	snprintf(dir, sizeof(dir), "%s", __FILE__);
	if ((p = strrchr(dir, '/')) != NULL)
		*p = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	path = xasprintf("%s/data/%s", dir, name);
	text = read_file(path, len, &cause);
	if (text == NULL)
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

static json_t *
vm_named(json_t *vms, const char *name)
{
	json_t	*vm;
	size_t	 i;

	json_array_foreach(vms, i, vm)
		if (strcmp(str(vm, "name"), name) == 0)
			return vm;
	fail_msg("no VM %s", name);
	return NULL;
}

static void
test_thumbprint_equal(void **state)
{
	(void)state;
	assert_true(vsphere_thumbprint_equal("2D:7C:7C:E4", "2d7c7ce4"));
	assert_true(vsphere_thumbprint_equal("2d:7c:7c:e4", "2D:7C:7C:E4"));
	assert_false(vsphere_thumbprint_equal("2D:7C:7C:E4", "2D:7C:7C:E5"));
	assert_false(vsphere_thumbprint_equal("2D:7C:7C", "2D:7C:7C:E4"));
	assert_false(vsphere_thumbprint_equal("", "2D"));
}

static void
test_fault(void **state)
{
	char	*xml, *type, *msg;
	size_t	 len;

	(void)state;
	xml = data("vsphere_login_fault.xml", &len);
	assert_int_equal(vsphere_parse_fault(xml, len, &type, &msg), 1);
	assert_string_equal(type, "InvalidLogin");
	assert_string_equal(msg, "Login failure");
	free(type);
	free(msg);
	free(xml);

	xml = data("vsphere_service_content.xml", &len);
	assert_int_equal(vsphere_parse_fault(xml, len, &type, &msg), 0);
	assert_null(type);
	free(xml);

	assert_int_equal(vsphere_parse_fault("<html>no</html>", 15, &type,
	    &msg), -1);
	assert_int_equal(vsphere_parse_fault("not xml", 7, &type, &msg), -1);
}

/* Two pages (the first with a token) plus the names of the entities. */
static void
test_paged(void **state)
{
	json_t	*vms = json_array(), *ents = json_object(), *vm, *d, *n;
	char	*xml, *token, *cause = NULL;
	size_t	 len;

	(void)state;
	xml = data("vsphere_entities.xml", &len);
	assert_int_equal(vsphere_parse_result(xml, len, vms, ents, &token,
	    &cause), 0);
	assert_null(token);
	assert_int_equal(json_array_size(vms), 0);
	assert_string_equal(str(json_object_get(ents, "host-39"), "name"),
	    "DC0_C0_H2");
	free(xml);

	xml = data("vsphere_vms_page1.xml", &len);
	assert_int_equal(vsphere_parse_result(xml, len, vms, ents, &token,
	    &cause), 0);
	assert_non_null(token);
	assert_string_equal(token, "haven-page-1");
	assert_int_equal(json_array_size(vms), 2);
	free(token);
	free(xml);

	xml = data("vsphere_vms_page2.xml", &len);
	assert_int_equal(vsphere_parse_result(xml, len, vms, ents, &token,
	    &cause), 0);
	assert_null(token);
	assert_int_equal(json_array_size(vms), 3);
	free(xml);

	vsphere_resolve(vms, ents);
	vm = vm_named(vms, "DC0_C0_RP0_VM0");
	assert_string_equal(str(vm, "id"), "vm-45");
	assert_string_equal(str(vm, "instance_uuid"),
	    "bfff331f-7f07-572d-951e-edd3701dc061");
	assert_string_equal(str(vm, "bios_uuid"),
	    "cd0681bf-2f18-5c00-9b9b-8197c0095348");
	assert_string_equal(str(vm, "power_state"), "on");
	assert_string_equal(str(vm, "hypervisor_state"), "poweredOn");
	assert_string_equal(str(vm, "guest_id"), "otherGuest");
	assert_string_equal(str(vm, "host"), "DC0_C0_H2");
	assert_string_equal(str(vm, "datastore"), "LocalDS_0");
	assert_string_equal(str(vm, "folder"), "/DC0/vm");
	assert_int_equal(json_integer_value(json_object_get(vm, "cpus")), 1);
	assert_int_equal(json_integer_value(json_object_get(vm, "memory_mb")),
	    32);
	assert_true(json_is_false(json_object_get(vm, "template")));
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(vm, "addresses"), 0)), "10.1.0.1");
	assert_int_equal(json_array_size(json_object_get(vm, "disks")), 1);
	d = json_array_get(json_object_get(vm, "disks"), 0);
	assert_int_equal(json_integer_value(json_object_get(d, "capacity")),
	    1024 * 1024);
	assert_string_equal(str(d, "controller"), "pvscsi");
	assert_string_equal(str(d, "file"),
	    "[LocalDS_0] DC0_C0_RP0_VM0/disk1.vmdk");
	assert_string_equal(str(d, "datastore"), "LocalDS_0");
	assert_string_equal(str(d, "backing"), "flat");
	assert_true(json_is_true(json_object_get(d, "thin")));
	n = json_array_get(json_object_get(vm, "nics"), 0);
	assert_string_equal(str(n, "type"), "e1000");
	assert_string_equal(str(n, "network"), "DC0_DVPG0");
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(n, "addresses"), 0)), "10.1.0.1");
	/* Nothing of the resolve's scaffolding is left. */
	assert_null(json_object_get(vm, "_host"));
	assert_null(json_object_get(vm, "_guestnet"));
	assert_null(json_object_get(n, "_key"));
	assert_null(json_object_get(n, "_pg"));
	assert_string_equal(str(vm_named(vms, "DC0_C0_RP0_VM2"), "host"),
	    "DC0_C0_H1");

	json_decref(vms);
	json_decref(ents);
	free(cause);
}

/* Other prefixes, foreign look-alikes, RDM, vmxnet3, nested folders. */
static void
test_vcenter_style(void **state)
{
	json_t	*vms = json_array(), *ents = json_object(), *vm, *a, *d, *n;
	char	*xml, *token, *cause = NULL;
	size_t	 len;

	(void)state;
	xml = data("vsphere_vcenter_style.xml", &len);
	assert_int_equal(vsphere_parse_result(xml, len, vms, ents, &token,
	    &cause), 0);
	assert_null(token);
	assert_int_equal(json_array_size(vms), 1);
	vsphere_resolve(vms, ents);
	vm = json_array_get(vms, 0);
	assert_string_equal(str(vm, "name"), "db01");
	assert_string_equal(str(vm, "power_state"), "suspended");
	assert_string_equal(str(vm, "guest_os"),
	    "Debian GNU/Linux 12 (64-bit)");
	assert_string_equal(str(vm, "guest_id"), "debian12_64Guest");
	assert_string_equal(str(vm, "hostname"), "db01.example.com");
	assert_string_equal(str(vm, "host"), "esx01.example.com");
	assert_string_equal(str(vm, "folder"), "/DC1/vm/prod & test");
	assert_string_equal(str(vm, "datastore"), "san-lun-7");
	assert_int_equal(json_integer_value(json_object_get(vm, "cpus")), 8);
	assert_int_equal(json_integer_value(json_object_get(vm, "memory_mb")),
	    32768);

	a = json_object_get(vm, "addresses");
	assert_int_equal(json_array_size(a), 3);
	assert_string_equal(json_string_value(json_array_get(a, 0)),
	    "192.0.2.10");
	assert_string_equal(json_string_value(json_array_get(a, 1)),
	    "2001:db8::10");
	assert_string_equal(json_string_value(json_array_get(a, 2)),
	    "198.51.100.7");

	assert_int_equal(json_array_size(json_object_get(vm, "disks")), 2);
	d = json_array_get(json_object_get(vm, "disks"), 0);
	assert_string_equal(str(d, "label"), "Hard disk 1");
	assert_int_equal(json_integer_value(json_object_get(d, "capacity")),
	    42949672960LL);
	assert_string_equal(str(d, "controller"), "pvscsi");
	assert_int_equal(json_integer_value(json_object_get(d, "bus")), 0);
	assert_true(json_is_false(json_object_get(d, "thin")));
	d = json_array_get(json_object_get(vm, "disks"), 1);
	assert_string_equal(str(d, "backing"), "rdm");
	assert_string_equal(str(d, "mode"), "independent_persistent");
	assert_string_equal(str(d, "controller"), "lsilogic-sas");
	assert_int_equal(json_integer_value(json_object_get(d, "bus")), 1);
	assert_int_equal(json_integer_value(json_object_get(d, "unit")), 3);
	assert_int_equal(json_integer_value(json_object_get(d, "capacity")),
	    1073741824LL);

	assert_int_equal(json_array_size(json_object_get(vm, "nics")), 1);
	n = json_array_get(json_object_get(vm, "nics"), 0);
	assert_string_equal(str(n, "type"), "vmxnet3");
	assert_string_equal(str(n, "network"), "VM Network");
	assert_string_equal(str(n, "mac"), "00:50:56:aa:bb:01");
	assert_true(json_is_true(json_object_get(n, "connected")));
	assert_int_equal(json_array_size(json_object_get(n, "addresses")), 2);

	json_decref(vms);
	json_decref(ents);
	free(xml);
	free(cause);
}

static void
test_not_retrieve(void **state)
{
	json_t	*vms = json_array(), *ents = json_object();
	char	*xml, *token, *cause = NULL;
	size_t	 len;

	(void)state;
	assert_int_equal(vsphere_parse_result("<html/>", 7, vms, ents,
	    &token, &cause), -1);
	assert_non_null(cause);
	xml = data("vsphere_login_fault.xml", &len);
	assert_int_equal(vsphere_parse_result(xml, len, vms, ents, &token,
	    &cause), -1);
	assert_non_null(strstr(cause, "InvalidLogin"));
	free(xml);
	xml = data("vsphere_service_content.xml", &len);
	assert_int_equal(vsphere_parse_result(xml, len, vms, ents, &token,
	    &cause), -1);
	free(xml);
	free(cause);
	json_decref(vms);
	json_decref(ents);
}

/* Refused before any byte is sent: no host, no accepted thumbprint. */
static void
test_refusals(void **state)
{
	struct vsphere_opts	 o;
	json_t			*inv;
	char			*cause = NULL;

	(void)state;
	memset(&o, 0, sizeof(o));
	assert_int_equal(vsphere_discover(&o, &inv, &cause), -1);
	assert_null(inv);
	assert_non_null(strstr(cause, "no vSphere host"));
	o.host = "127.0.0.1";
	o.port = 1;		/* nothing listens there */
	o.connect_timeout_s = 2;
	assert_int_equal(vsphere_discover(&o, &inv, &cause), -1);
	assert_non_null(strstr(cause, "connection refused"));
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thumbprint_equal),
		cmocka_unit_test(test_fault),
		cmocka_unit_test(test_paged),
		cmocka_unit_test(test_vcenter_style),
		cmocka_unit_test(test_not_retrieve),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
