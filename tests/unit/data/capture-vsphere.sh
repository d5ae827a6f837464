#!/bin/sh
# Re-capture the simulator's answers that tests/unit/test_vsphere.c
# parses (vsphere_*.xml here, but vsphere_vcenter_style.xml, which is
# hand-written): the same calls as src/common/vsphere.c makes, with 3 VMs
# and pages of 2.  After a change, update the expectations in the test
# (managed object ids, hosts and UUIDs are the simulator's own).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
tmp=$(mktemp -d)
trap 'sh "$root/tests/lib/vcsim.sh" stop "$tmp/vc"; rm -rf "$tmp"' EXIT
port=$(sh "$root/tests/lib/vcsim.sh" start "$tmp/vc" 3)

soap() {
	# No -f: a fault comes with HTTP 500.
	curl -sk -b "$tmp/cookies" -c "$tmp/cookies" \
	    -H 'Content-Type: text/xml; charset=utf-8' \
	    -H 'SOAPAction: "urn:vim25/6.5"' \
	    --data-binary "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>$1</soapenv:Body></soapenv:Envelope>" \
	    "https://127.0.0.1:$port/sdk"
}
view() {
	soap "<CreateContainerView xmlns=\"urn:vim25\"><_this type=\"ViewManager\">ViewManager</_this><container type=\"Folder\">group-d1</container>$1<recursive>true</recursive></CreateContainerView>" |
	    sed -n 's/.*<returnval type="ContainerView">\([^<]*\)<.*/\1/p'
}
objects() {
	echo "<objectSet><obj type=\"ContainerView\">$1</obj><skip>true</skip><selectSet xsi:type=\"TraversalSpec\"><name>view</name><type>ContainerView</type><path>view</path><skip>false</skip></selectSet></objectSet>"
}

soap '<RetrieveServiceContent xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this></RetrieveServiceContent>' \
    > "$here/vsphere_service_content.xml"
soap '<Login xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this><userName>haven</userName><password>wrong</password></Login>' \
    > "$here/vsphere_login_fault.xml"
soap '<Login xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this><userName>haven</userName><password>secret</password></Login>' \
    > /dev/null

v=$(view '<type>Folder</type><type>Datacenter</type><type>HostSystem</type><type>Datastore</type><type>Network</type>')
soap "<RetrievePropertiesEx xmlns=\"urn:vim25\"><_this type=\"PropertyCollector\">propertyCollector</_this><specSet><propSet><type>ManagedEntity</type><pathSet>name</pathSet><pathSet>parent</pathSet></propSet>$(objects "$v")</specSet><options><maxObjects>500</maxObjects></options></RetrievePropertiesEx>" \
    > "$here/vsphere_entities.xml"

# The property paths of vs_vm_props[] in vsphere.c.
paths=$(sed -n 's/^	{ "\([a-zA-Z.]*\)",[[:space:]]*VK_.*/<pathSet>\1<\/pathSet>/p' \
    "$root/src/common/vsphere.c" | tr -d '\n')
v=$(view '<type>VirtualMachine</type>')
soap "<RetrievePropertiesEx xmlns=\"urn:vim25\"><_this type=\"PropertyCollector\">propertyCollector</_this><specSet><propSet><type>VirtualMachine</type>$paths</propSet>$(objects "$v")</specSet><options><maxObjects>2</maxObjects></options></RetrievePropertiesEx>" \
    > "$here/vsphere_vms_page1.xml"
token=$(sed -n 's/.*<token>\([^<]*\)<.*/\1/p' "$here/vsphere_vms_page1.xml")
soap "<ContinueRetrievePropertiesEx xmlns=\"urn:vim25\"><_this type=\"PropertyCollector\">propertyCollector</_this><token>$token</token></ContinueRetrievePropertiesEx>" \
    > "$here/vsphere_vms_page2.xml"
echo "captured into $here"
