// A vCenter simulator for Haven's discovery tests, on the simulator
// library of Debian's golang-github-vmware-govmomi-dev (which ships no
// vcsim command).  Build offline with tests/lib/vcsim.sh build.
//
// It differs from a bare simulator.VPX() in the ways the tests need:
// only the given username and password log in (the library accepts any
// non-empty pair otherwise), every VM has guest.ipAddress set (the
// library leaves it empty), every fourth VM is powered off, TLS uses a
// certificate kept in -cert/-key (made on first start) so a restart keeps
// or changes the thumbprint at will, and two test endpoints change the
// inventory between discoveries:
//
//	POST /haven/destroy?name=VM	Destroy_Task on that VM
//	GET  /haven/ready		200 once the inventory is built
//
// The library's PropertyCollector ignores RetrievePropertiesEx's
// options.maxObjects and has no ContinueRetrievePropertiesEx, so a real
// vCenter's paging would go untested; pagingPC below adds both.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

func main() {
	listen := flag.String("l", "127.0.0.1:0", "listen address")
	vms := flag.Int("vm", 10, "number of virtual machines")
	hosts := flag.Int("host", 3, "number of hosts in the cluster")
	user := flag.String("username", "haven", "the only username that logs in")
	pass := flag.String("password", "secret", "its password")
	certFile := flag.String("cert", "", "TLS certificate (PEM), made when missing")
	keyFile := flag.String("key", "", "TLS key (PEM), made when missing")
	portFile := flag.String("port-file", "", "write the listening port here")
	flag.Parse()

	var cert tls.Certificate
	var err error
	if *certFile != "" {
		cert, err = loadOrMakeCert(*certFile, *keyFile)
	} else {
		cert, err = makeCert()
	}
	if err != nil {
		log.Fatalf("vcsim: certificate: %v", err)
	}

	model := simulator.VPX()
	model.Datacenter = 1
	model.Host = 0
	model.Cluster = 1
	model.ClusterHost = *hosts
	model.Portgroup = 1
	model.Machine = *vms
	model.Autostart = true
	start := time.Now()
	if err := model.Create(); err != nil {
		log.Fatalf("vcsim: create: %v", err)
	}
	defer model.Remove()
	setGuests()
	pc := &pagingPC{}
	pc.Self = model.ServiceContent.PropertyCollector
	simulator.Map.Put(pc)

	model.Service.RegisterEndpoints = true
	model.Service.Listen = &url.URL{Host: *listen,
		User: url.UserPassword(*user, *pass)}
	model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	s := model.Service.NewServer()
	defer s.Close()

	mux := model.Service.ServeMux
	mux.HandleFunc("/haven/ready", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("/haven/destroy", func(w http.ResponseWriter, r *http.Request) {
		if err := destroy(r.Context(), s.URL, r.URL.Query().Get("name")); err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		fmt.Fprintln(w, "destroyed")
	})

	_, port, _ := net.SplitHostPort(s.URL.Host)
	if *portFile != "" {
		tmp := *portFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(port+"\n"), 0644); err != nil {
			log.Fatalf("vcsim: %v", err)
		}
		if err := os.Rename(tmp, *portFile); err != nil {
			log.Fatalf("vcsim: %v", err)
		}
	}
	log.Printf("vcsim: %d VMs on %d hosts at %s in %.1fs", *vms, *hosts,
		s.URL.Host, time.Since(start).Seconds())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
}

var vmIndex = regexp.MustCompile(`_VM([0-9]+)$`)

// The library leaves guest.ipAddress empty and the first NIC without
// addresses; give each VM a distinct 10.x.y.z from its number, so tests
// know which address DC0_C0_RP0_VM<i> has and that VM<4k+3> is off.
func setGuests() {
	for _, e := range simulator.Map.All("VirtualMachine") {
		vm := e.(*simulator.VirtualMachine)
		m := vmIndex.FindStringSubmatch(vm.Name)
		if m == nil {
			continue
		}
		i, _ := strconv.Atoi(m[1])
		ip := fmt.Sprintf("10.%d.%d.%d", 1+i/62500, (i/250)%250, 1+i%250)
		simulator.Map.WithLock(vm, func() {
			if len(vm.Guest.Net) > 0 {
				vm.Guest.Net[0].IpAddress = []string{ip}
			}
			simulator.Map.Update(vm, []types.PropertyChange{
				{Name: "guest.ipAddress", Val: ip},
				{Name: "summary.guest.ipAddress", Val: ip},
				{Name: "guest.net", Val: vm.Guest.Net},
			})
			if i%4 == 3 {
				simulator.Map.Update(vm, []types.PropertyChange{
					{Name: "runtime.powerState",
						Val: types.VirtualMachinePowerStatePoweredOff},
					{Name: "summary.runtime.powerState",
						Val: types.VirtualMachinePowerStatePoweredOff},
				})
			}
		})
	}
}

// The session's PropertyCollector (the library makes one per session
// with reflect.New of this type, so the zero value must work).
type pagingPC struct {
	simulator.PropertyCollector
	mu    sync.Mutex
	pages map[string]pending
	next  int
}

type pending struct {
	rest []types.ObjectContent
	max  int
}

// Later pages are as long as the first one asked for.
func (pc *pagingPC) page(objs []types.ObjectContent, max int) *types.RetrieveResult {
	res := &types.RetrieveResult{Objects: objs}
	if max <= 0 || len(objs) <= max {
		return res
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.pages == nil {
		pc.pages = make(map[string]pending)
	}
	pc.next++
	res.Token = fmt.Sprintf("haven-page-%d", pc.next)
	pc.pages[res.Token] = pending{objs[max:], max}
	res.Objects = objs[:max]
	return res
}

func (pc *pagingPC) RetrievePropertiesEx(ctx *simulator.Context, r *types.RetrievePropertiesEx) soap.HasFault {
	body := pc.PropertyCollector.RetrievePropertiesEx(ctx, r).(*methods.RetrievePropertiesExBody)
	if body.Res == nil {
		return body
	}
	body.Res.Returnval = pc.page(body.Res.Returnval.Objects, int(r.Options.MaxObjects))
	return body
}

func (pc *pagingPC) ContinueRetrievePropertiesEx(ctx *simulator.Context, r *types.ContinueRetrievePropertiesEx) soap.HasFault {
	body := &methods.ContinueRetrievePropertiesExBody{}
	pc.mu.Lock()
	p, ok := pc.pages[r.Token]
	delete(pc.pages, r.Token)
	pc.mu.Unlock()
	if !ok {
		body.Fault_ = simulator.Fault("unknown token "+r.Token,
			&types.InvalidArgument{InvalidProperty: "token"})
		return body
	}
	body.Res = &types.ContinueRetrievePropertiesExResponse{
		Returnval: *pc.page(p.rest, p.max)}
	return body
}

func (pc *pagingPC) CancelRetrievePropertiesEx(ctx *simulator.Context, r *types.CancelRetrievePropertiesEx) soap.HasFault {
	pc.mu.Lock()
	delete(pc.pages, r.Token)
	pc.mu.Unlock()
	return &methods.CancelRetrievePropertiesExBody{Res: &types.CancelRetrievePropertiesExResponse{}}
}

// Through the SOAP API, as an operator would: the library's own
// bookkeeping (host, folder, datastore, property filters) stays right.
func destroy(ctx context.Context, u *url.URL, name string) error {
	if name == "" {
		return fmt.Errorf("name= is missing")
	}
	c, err := govmomi.NewClient(ctx, u, true)
	if err != nil {
		return err
	}
	defer c.Logout(ctx)
	f := find.NewFinder(c.Client, true)
	dc, err := f.DefaultDatacenter(ctx)
	if err != nil {
		return err
	}
	f.SetDatacenter(dc)
	vm, err := f.VirtualMachine(ctx, name)
	if err != nil {
		return err
	}
	var o mo.VirtualMachine
	if err := vm.Properties(ctx, vm.Reference(), []string{"runtime.powerState"}, &o); err != nil {
		return err
	}
	if o.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn {
		t, err := vm.PowerOff(ctx)
		if err != nil {
			return err
		}
		if err := t.Wait(ctx); err != nil {
			return err
		}
	}
	t, err := vm.Destroy(ctx)
	if err != nil {
		return err
	}
	return t.Wait(ctx)
}

func loadOrMakeCert(certFile, keyFile string) (tls.Certificate, error) {
	if _, err := os.Stat(certFile); err == nil {
		return tls.LoadX509KeyPair(certFile, keyFile)
	}
	cert, err := makeCert()
	if err != nil {
		return cert, err
	}
	key, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		return cert, err
	}
	kp := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: key})
	if err := os.WriteFile(keyFile, kp, 0600); err != nil {
		return cert, err
	}
	cp := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	return cert, os.WriteFile(certFile, cp, 0644)
}

// Self-signed, like a fresh ESXi or vCenter: the thumbprint is all a
// client can check on first contact.
func makeCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "vcsim.haven.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(3 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost", "vcsim.haven.test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
