// ovfimport deploys an OVA into a vCenter the way vSphere's "Deploy OVF
// Template" does, and prints the resulting VM's hardware as JSON: the
// import check of make ova (tests/image/ova.t), run against the
// simulator of tests/lib/vcsim.sh.  Build offline with
// tests/lib/ovfimport/build.sh, against Debian's
// golang-github-vmware-govmomi-dev (which ships the ovf and nfc packages
// but no govc).
//
//	ovfimport -check OVA			check the archive only
//	ovfimport -port N [-name VM] [-network NET] OVA
//
// The password is $VCSIM_PASSWORD, the user -user or $VCSIM_USER.
//
// Steps, each a failure with its reason: the archive's layout (the
// descriptor first, then the manifest), the manifest's SHA-256 sums
// against every file (before anything is sent, as vCenter does), the
// descriptor (parsed by govmomi's ovf package: references, disks, file
// sizes), the OvfManager's CreateImportSpec (its warnings and errors are
// printed verbatim; any error fails), ImportVApp, the upload of every
// file the import spec asks for through the NFC lease, the lease's
// completion, and the VM's configuration as the server reports it.
package main

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/nfc"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/ovf"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "ovfimport: "+format+"\n", a...)
	os.Exit(1)
}

// The archive as read once, start to end.
type member struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

type archive struct {
	members    []member
	descriptor []byte
	manifest   []byte
	ovfName    string
	mfName     string
}

func readArchive(path string) (*archive, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open the OVA: %v", err)
	}
	defer f.Close()
	a := &archive{}
	tr := tar.NewReader(bufio.NewReaderSize(f, 1<<20))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s is not a tar archive (an OVA is one): %v", path, err)
		}
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeRegA {
			return nil, fmt.Errorf("%s: member %q is not a regular file: an OVA holds only files", path, h.Name)
		}
		if strings.Contains(h.Name, "/") {
			return nil, fmt.Errorf("%s: member %q is in a directory: OVF 1.x wants every file at the top of the archive", path, h.Name)
		}
		sum := sha256.New()
		var keep *[]byte
		switch {
		case len(a.members) == 0 && strings.HasSuffix(h.Name, ".ovf"):
			a.ovfName, keep = h.Name, &a.descriptor
		case len(a.members) == 0:
			return nil, fmt.Errorf("%s: the first file is %q, not the .ovf descriptor: OVF 1.x requires the descriptor first; rebuild with make ova", path, h.Name)
		case strings.HasSuffix(h.Name, ".mf"):
			if len(a.members) != 1 {
				return nil, fmt.Errorf("%s: the manifest %q is file %d, not the second: OVF 1.x puts it right after the descriptor", path, h.Name, len(a.members)+1)
			}
			a.mfName, keep = h.Name, &a.manifest
		case strings.HasSuffix(h.Name, ".ovf"):
			return nil, fmt.Errorf("%s: a second descriptor %q: an OVA holds one", path, h.Name)
		}
		var w io.Writer = sum
		var buf strings.Builder
		if keep != nil {
			if h.Size > 16<<20 {
				return nil, fmt.Errorf("%s: %q is %d bytes, too big for a descriptor or manifest", path, h.Name, h.Size)
			}
			w = io.MultiWriter(sum, &buf)
		}
		n, err := io.Copy(w, tr)
		if err != nil {
			return nil, fmt.Errorf("%s: reading %q: %v (truncated OVA?)", path, h.Name, err)
		}
		if keep != nil {
			*keep = []byte(buf.String())
		}
		for _, m := range a.members {
			if m.Name == h.Name {
				return nil, fmt.Errorf("%s: %q is in the archive twice", path, h.Name)
			}
		}
		a.members = append(a.members, member{h.Name, n, hex.EncodeToString(sum.Sum(nil))})
	}
	if len(a.members) == 0 {
		return nil, fmt.Errorf("%s is an empty archive", path)
	}
	return a, nil
}

func (a *archive) member(name string) *member {
	for i := range a.members {
		if a.members[i].Name == name {
			return &a.members[i]
		}
	}
	return nil
}

var manifestLine = regexp.MustCompile(`^([A-Z0-9]+)\((.+)\)= ?([0-9a-fA-F]+)$`)

// As vCenter: every file named in the manifest must be there with that
// digest, and every file but the manifest (and a signature) must be named.
func (a *archive) verifyManifest() error {
	if a.mfName == "" {
		return fmt.Errorf("no manifest (.mf) after the descriptor: make ova writes one; without it nothing proves the disks are the ones built")
	}
	listed := map[string]bool{}
	for i, line := range strings.Split(strings.TrimRight(string(a.manifest), "\n"), "\n") {
		line = strings.TrimRight(line, "\r")
		m := manifestLine.FindStringSubmatch(line)
		if m == nil {
			return fmt.Errorf("manifest %s line %d %q is not ALGO(file)= digest", a.mfName, i+1, line)
		}
		if m[1] != "SHA256" {
			return fmt.Errorf("manifest %s line %d uses %s: this check reads SHA256 manifests, which make ova writes", a.mfName, i+1, m[1])
		}
		f := a.member(m[2])
		if f == nil {
			return fmt.Errorf("manifest %s names %q, which is not in the OVA: the OVA is incomplete; rebuild it (make ova)", a.mfName, m[2])
		}
		if !strings.EqualFold(f.SHA256, m[3]) {
			return fmt.Errorf("manifest %s: the SHA-256 of %s is %s but the manifest says %s: the file is corrupt or was altered; rebuild the OVA (make ova) or fetch it again", a.mfName, f.Name, f.SHA256, strings.ToLower(m[3]))
		}
		listed[m[2]] = true
	}
	for _, f := range a.members {
		if f.Name != a.mfName && !strings.HasSuffix(f.Name, ".cert") && !listed[f.Name] {
			return fmt.Errorf("%s is in the OVA but not in the manifest %s: nothing vouches for it; rebuild the OVA (make ova)", f.Name, a.mfName)
		}
	}
	return nil
}

// What an importer needs before it asks the server: every reference is a
// file of the stated size, every disk has a file reference (the simulator
// and virt-v2v fail without one), every disk item names a known disk.
func checkDescriptor(a *archive, env *ovf.Envelope) error {
	if env.VirtualSystem == nil {
		return fmt.Errorf("the descriptor has no VirtualSystem")
	}
	if len(env.VirtualSystem.VirtualHardware) == 0 {
		return fmt.Errorf("the descriptor's VirtualSystem has no VirtualHardwareSection")
	}
	refs := map[string]ovf.File{}
	for _, r := range env.References {
		f := a.member(r.Href)
		if f == nil {
			return fmt.Errorf("the descriptor references file %q (id %s), which is not in the OVA: add it, or drop the reference", r.Href, r.ID)
		}
		if r.Size != 0 && int64(r.Size) != f.Size {
			return fmt.Errorf("the descriptor says %s is %d bytes, the OVA holds %d: regenerate the descriptor (make ova)", r.Href, r.Size, f.Size)
		}
		refs[r.ID] = r
	}
	disks := map[string]bool{}
	if env.Disk != nil {
		for _, d := range env.Disk.Disks {
			if d.FileRef == nil || *d.FileRef == "" {
				return fmt.Errorf("disk %s has no ovf:fileRef: give it a file (an empty streamOptimized VMDK), as importers here fail without one", d.DiskID)
			}
			if _, ok := refs[*d.FileRef]; !ok {
				return fmt.Errorf("disk %s refers to file id %q, which References does not list", d.DiskID, *d.FileRef)
			}
			disks[d.DiskID] = true
		}
	}
	for _, it := range env.VirtualSystem.VirtualHardware[0].Item {
		if it.ResourceType == nil || *it.ResourceType != 17 {
			continue
		}
		if len(it.HostResource) == 0 {
			return fmt.Errorf("hardware item %s is a disk without a HostResource", it.InstanceID)
		}
		id := strings.TrimPrefix(strings.TrimPrefix(it.HostResource[0], "ovf:/disk/"), "/disk/")
		if !disks[id] {
			return fmt.Errorf("hardware item %s uses disk %q, which the DiskSection does not list", it.InstanceID, it.HostResource[0])
		}
		if it.Parent == nil {
			return fmt.Errorf("hardware item %s is a disk without a Parent controller", it.InstanceID)
		}
	}
	return nil
}

// A server fault as an operator reads it: its type, its message and,
// for a bad argument, which one.
func faultText(err error) string {
	var f interface{}
	switch {
	case soap.IsSoapFault(err):
		f = soap.ToSoapFault(err).VimFault()
	case soap.IsVimFault(err):
		f = soap.ToVimFault(err)
	}
	if f == nil {
		return err.Error()
	}
	v := reflect.ValueOf(f)
	if v.Kind() == reflect.Ptr {
		v = v.Elem()
	}
	extra := ""
	if p := v.FieldByName("InvalidProperty"); p.IsValid() && p.String() != "" {
		extra = " (invalid property " + p.String() + ")"
	}
	return fmt.Sprintf("%s: %s%s", v.Type().Name(), err.Error(), extra)
}

func localized(f types.LocalizedMethodFault) string {
	t := "fault"
	if f.Fault != nil {
		t = reflect.TypeOf(f.Fault).Elem().Name()
	}
	return fmt.Sprintf("%s: %s", t, f.LocalizedMessage)
}

type diskInfo struct {
	Label         string `json:"label"`
	CapacityBytes int64  `json:"capacityBytes"`
	File          string `json:"file"`
	Controller    string `json:"controller"`
	Unit          int32  `json:"unit"`
}

type nicInfo struct {
	Type    string `json:"type"`
	Network string `json:"network"`
}

type descDisk struct {
	ID            string `json:"id"`
	CapacityBytes int64  `json:"capacityBytes"`
	PopulatedSize int    `json:"populatedSize"`
	File          string `json:"file"`
	FileSize      int64  `json:"fileSize"`
}

type report struct {
	Name        string      `json:"name"`
	GuestID     string      `json:"guestId"`
	HWVersion   string      `json:"hwVersion"`
	NumCPU      int32       `json:"numCPU"`
	MemoryMB    int32       `json:"memoryMB"`
	Controllers []string    `json:"controllers"`
	Disks       []diskInfo  `json:"disks"`
	NICs        []nicInfo   `json:"nics"`
	VApp        interface{} `json:"vAppConfig"`
	Uploads     []upload    `json:"uploads"`
	Warnings    []string    `json:"warnings"`
	Descriptor  struct {
		Product     string     `json:"product"`
		Vendor      string     `json:"vendor"`
		Version     string     `json:"version"`
		FullVersion string     `json:"fullVersion"`
		ProductURL  string     `json:"productUrl"`
		OSType      string     `json:"osType"`
		Disks       []descDisk `json:"disks"`
	} `json:"descriptor"`
	Members []member `json:"members"`
}

type upload struct {
	File  string `json:"file"`
	Bytes int64  `json:"bytes"`
}

func diskBytes(d *ovf.VirtualDiskDesc) int64 {
	var n int64
	fmt.Sscan(d.Capacity, &n)
	if d.CapacityAllocationUnits == nil {
		return n
	}
	u := strings.ReplaceAll(*d.CapacityAllocationUnits, " ", "")
	switch u {
	case "byte":
	case "byte*2^10":
		n <<= 10
	case "byte*2^20":
		n <<= 20
	case "byte*2^30":
		n <<= 30
	case "byte*2^40":
		n <<= 40
	default:
		return -1
	}
	return n
}

func describe(r *report, a *archive, env *ovf.Envelope) {
	r.Members = a.members
	vs := env.VirtualSystem
	if len(vs.Product) > 0 {
		p := vs.Product[0]
		r.Descriptor.Product, r.Descriptor.Vendor = p.Product, p.Vendor
		r.Descriptor.Version, r.Descriptor.FullVersion = p.Version, p.FullVersion
		r.Descriptor.ProductURL = p.ProductURL
	}
	if len(vs.OperatingSystem) > 0 && vs.OperatingSystem[0].OSType != nil {
		r.Descriptor.OSType = *vs.OperatingSystem[0].OSType
	}
	refs := map[string]ovf.File{}
	for _, f := range env.References {
		refs[f.ID] = f
	}
	r.Descriptor.Disks = []descDisk{}
	if env.Disk != nil {
		for i := range env.Disk.Disks {
			d := &env.Disk.Disks[i]
			dd := descDisk{ID: d.DiskID, CapacityBytes: diskBytes(d)}
			if d.PopulatedSize != nil {
				dd.PopulatedSize = *d.PopulatedSize
			}
			if d.FileRef != nil {
				dd.File = refs[*d.FileRef].Href
				if m := a.member(dd.File); m != nil {
					dd.FileSize = m.Size
				}
			}
			r.Descriptor.Disks = append(r.Descriptor.Disks, dd)
		}
	}
}

func main() {
	check := flag.Bool("check", false, "check the archive, manifest and descriptor only; no server")
	port := flag.Int("port", 0, "the simulator's port on 127.0.0.1 (tests/lib/vcsim.sh env)")
	user := flag.String("user", os.Getenv("VCSIM_USER"), "user name (default $VCSIM_USER)")
	name := flag.String("name", "", "name of the new VM (default haven-VERSION)")
	network := flag.String("network", "VM Network", "the inventory network the descriptor's networks map to")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: ovfimport -check OVA | ovfimport -port N [-user U] [-name VM] [-network NET] OVA  (password: $VCSIM_PASSWORD)")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	path := flag.Arg(0)

	a, err := readArchive(path)
	if err != nil {
		fail("%v", err)
	}
	if err := a.verifyManifest(); err != nil {
		fail("%v", err)
	}
	env, err := ovf.Unmarshal(strings.NewReader(string(a.descriptor)))
	if err != nil {
		fail("the descriptor %s does not parse as OVF: %v", a.ovfName, err)
	}
	if err := checkDescriptor(a, env); err != nil {
		fail("descriptor %s: %v", a.ovfName, err)
	}
	var r report
	r.Warnings = []string{}
	r.Uploads = []upload{}
	describe(&r, a, env)
	if *check {
		out, _ := json.MarshalIndent(r.Descriptor, "", "  ")
		fmt.Println(string(out))
		return
	}
	if *port == 0 {
		fail("no -port: start the simulator (tests/lib/vcsim.sh start DIR 0) and pass its port")
	}
	pass := os.Getenv("VCSIM_PASSWORD")
	if *user == "" || pass == "" {
		fail("no credentials: set VCSIM_USER and VCSIM_PASSWORD (tests/lib/vcsim.sh env DIR prints them)")
	}
	if *name == "" {
		*name = "haven-" + r.Descriptor.Version
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	u := &url.URL{Scheme: "https", Host: fmt.Sprintf("127.0.0.1:%d", *port),
		Path: "/sdk", User: url.UserPassword(*user, pass)}
	// The simulator's certificate is self-signed; the thumbprint check
	// is tested by discovery.t, not here.
	c, err := govmomi.NewClient(ctx, u, true)
	if err != nil {
		fail("cannot log in to %s as %s: %s", u.Host, *user, faultText(err))
	}
	defer c.Logout(context.Background())

	f := find.NewFinder(c.Client, true)
	dc, err := f.DefaultDatacenter(ctx)
	if err != nil {
		fail("no datacenter: %v", err)
	}
	f.SetDatacenter(dc)
	pool, err := f.DefaultResourcePool(ctx)
	if err != nil {
		fail("no resource pool: %v", err)
	}
	ds, err := f.DefaultDatastore(ctx)
	if err != nil {
		fail("no datastore: %v", err)
	}
	folder, err := f.DefaultFolder(ctx)
	if err != nil {
		fail("no VM folder: %v", err)
	}
	netRef, err := f.Network(ctx, *network)
	if err != nil {
		fail("no network %q in the inventory: %v", *network, err)
	}
	cisp := types.OvfCreateImportSpecParams{
		EntityName:       *name,
		DiskProvisioning: string(types.OvfCreateImportSpecParamsDiskProvisioningTypeThin),
	}
	if env.Network != nil {
		for _, n := range env.Network.Networks {
			cisp.NetworkMapping = append(cisp.NetworkMapping, types.OvfNetworkMapping{
				Name: n.Name, Network: netRef.Reference()})
		}
	}

	spec, err := ovf.NewManager(c.Client).CreateImportSpec(ctx, string(a.descriptor), pool, ds, cisp)
	if err != nil {
		fail("CreateImportSpec refused the descriptor: %s", faultText(err))
	}
	for _, w := range spec.Warning {
		fmt.Fprintf(os.Stderr, "ovfimport: CreateImportSpec warning: %s\n", localized(w))
		r.Warnings = append(r.Warnings, localized(w))
	}
	if len(spec.Error) > 0 {
		for _, e := range spec.Error {
			fmt.Fprintf(os.Stderr, "ovfimport: CreateImportSpec error: %s\n", localized(e))
		}
		fail("CreateImportSpec reported %d error(s) (above): the server cannot deploy this descriptor", len(spec.Error))
	}
	if spec.ImportSpec == nil {
		fail("CreateImportSpec returned no import spec")
	}

	lease, err := pool.ImportVApp(ctx, spec.ImportSpec, folder, nil)
	if err != nil {
		fail("ImportVApp refused the import spec: %s", faultText(err))
	}
	info, err := lease.Wait(ctx, spec.FileItem)
	if err != nil {
		fail("the NFC lease did not become ready: %s", faultText(err))
	}
	if len(info.Items) != len(spec.FileItem) {
		lease.Abort(ctx, nil)
		fail("the lease offers %d upload URL(s) for the %d file(s) the import spec names", len(info.Items), len(spec.FileItem))
	}
	if err := uploadAll(ctx, path, lease, info, &r); err != nil {
		lease.Abort(ctx, &types.LocalizedMethodFault{LocalizedMessage: err.Error()})
		fail("%v", err)
	}
	if err := lease.Complete(ctx); err != nil {
		fail("completing the NFC lease: %s", faultText(err))
	}

	vm := object.NewVirtualMachine(c.Client, info.Entity)
	var o mo.VirtualMachine
	if err := vm.Properties(ctx, vm.Reference(), []string{"name", "config"}, &o); err != nil {
		fail("cannot read the new VM's configuration: %s", faultText(err))
	}
	if o.Config == nil {
		fail("the new VM %s has no configuration", info.Entity.Value)
	}
	vmReport(&r, &o)
	out, _ := json.MarshalIndent(r, "", "  ")
	fmt.Println(string(out))
}

// One pass over the archive: each file the lease wants goes up as it
// passes by.
func uploadAll(ctx context.Context, path string, lease *nfc.Lease, info *nfc.LeaseInfo, r *report) error {
	want := map[string]nfc.FileItem{}
	for _, it := range info.Items {
		want[it.Path] = it
	}
	upd := lease.StartUpdater(ctx, info)
	defer upd.Done()
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot open the OVA again: %v", err)
	}
	defer f.Close()
	tr := tar.NewReader(bufio.NewReaderSize(f, 1<<20))
	for len(want) > 0 {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the OVA for the upload: %v", err)
		}
		it, ok := want[h.Name]
		if !ok {
			continue
		}
		if err := lease.Upload(ctx, it, tr, soap.Upload{ContentLength: h.Size}); err != nil {
			return fmt.Errorf("uploading %s to %s through the NFC lease: %v", h.Name, it.URL, err)
		}
		r.Uploads = append(r.Uploads, upload{h.Name, h.Size})
		delete(want, h.Name)
	}
	for p := range want {
		return fmt.Errorf("the import spec asks for %s, which is not in the OVA", p)
	}
	return nil
}

func vmReport(r *report, o *mo.VirtualMachine) {
	r.Name = o.Name
	r.GuestID = o.Config.GuestId
	r.HWVersion = o.Config.Version
	r.NumCPU = o.Config.Hardware.NumCPU
	r.MemoryMB = o.Config.Hardware.MemoryMB
	devs := object.VirtualDeviceList(o.Config.Hardware.Device)
	r.Controllers = []string{}
	r.Disks = []diskInfo{}
	r.NICs = []nicInfo{}
	for _, d := range devs {
		switch x := d.(type) {
		case types.BaseVirtualSCSIController:
			r.Controllers = append(r.Controllers, devs.Type(d))
		case *types.VirtualDisk:
			di := diskInfo{Label: devs.Name(d), CapacityBytes: x.CapacityInBytes}
			if l := x.DeviceInfo; l != nil && l.GetDescription().Label != "" {
				di.Label = l.GetDescription().Label
			}
			if di.CapacityBytes == 0 {
				di.CapacityBytes = x.CapacityInKB * 1024
			}
			if b, ok := x.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
				di.File = b.GetVirtualDeviceFileBackingInfo().FileName
			}
			if c := devs.FindByKey(x.ControllerKey); c != nil {
				di.Controller = devs.Type(c)
			}
			if x.UnitNumber != nil {
				di.Unit = *x.UnitNumber
			}
			r.Disks = append(r.Disks, di)
		case types.BaseVirtualEthernetCard:
			// devs.Type says "ethernet" for every card; the
			// type's name says which.
			n := nicInfo{Type: strings.ToLower(strings.TrimPrefix(
				reflect.TypeOf(d).Elem().Name(), "Virtual"))}
			switch b := d.GetVirtualDevice().Backing.(type) {
			case *types.VirtualEthernetCardNetworkBackingInfo:
				n.Network = b.DeviceName
			case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
				n.Network = "dvportgroup " + b.Port.PortgroupKey
			}
			r.NICs = append(r.NICs, n)
		}
	}
	sort.Slice(r.Disks, func(i, j int) bool { return r.Disks[i].Unit < r.Disks[j].Unit })
	if v := o.Config.VAppConfig; v != nil {
		r.VApp = v
	}
}
