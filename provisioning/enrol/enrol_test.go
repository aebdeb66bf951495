package enrol

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vnkiosk/kiosk/kiosk/backend/refbackend"
	"github.com/vnkiosk/kiosk/kiosk/daemon"
	"github.com/vnkiosk/kiosk/provisioning/identity"
)

type refServer struct {
	url string
	pki *refbackend.PKI
	fp  string // the CA's fingerprint, colon-separated upper case as operators copy it
}

func startRef(t *testing.T, opt refbackend.Options) refServer {
	t.Helper()
	pki, err := refbackend.EnsurePKI(filepath.Join(t.TempDir(), "tls"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := refbackend.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	url, err := srv.Start("127.0.0.1:0", pki)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	b, err := os.ReadFile(pki.Path(refbackend.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := identity.ParseCertificates(b)
	if err != nil {
		t.Fatal(err)
	}
	hexfp := strings.ToUpper(identity.Fingerprint(ca[0]))
	var parts []string
	for i := 0; i < len(hexfp); i += 2 {
		parts = append(parts, hexfp[i:i+2])
	}
	return refServer{url: url, pki: pki, fp: strings.Join(parts, ":")}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// get asks the reference backend's /v1/ API with the given client
// certificate (none when nil).
func get(t *testing.T, rs refServer, id *identity.Identity, cert *tls.Certificate) (int, error) {
	t.Helper()
	tc := &tls.Config{RootCAs: id.CAPool()}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(rs.url + "/v1/payments/X")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// TestProvisionEndToEnd enrols against the reference EST server with a
// one-time token and the CA pinned by fingerprint, replays the token, renews,
// and uses the certificate on the mutual-TLS API.
func TestProvisionEndToEnd(t *testing.T) {
	t.Parallel()
	rs := startRef(t, refbackend.Options{ESTTokens: []string{"tok-1", "tok-2"}})
	state := t.TempDir()
	id, err := Enrol(ctx(t), Options{Server: rs.url, Token: "tok-1", Site: "000.31.20.H29", KioskID: "kiosk-e2e", CAFingerprint: rs.fp, StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	if id.KioskID() != "kiosk-e2e" || id.Site() != "000.31.20.H29" {
		t.Errorf("subject: id %q site %q", id.KioskID(), id.Site())
	}
	if life := time.Until(id.NotAfter()); life < 29*24*time.Hour || life > 31*24*time.Hour {
		t.Errorf("certificate valid for %s, want about 30 days", life)
	}
	for path, want := range map[string]os.FileMode{
		filepath.Join(state, "identity"): 0o700, id.KeyFile(): 0o600, id.CertFile(): 0o644, id.CAFile(): 0o644,
	} {
		if m := mode(t, path); m != want {
			t.Errorf("%s: mode %o, want %o", path, m, want)
		}
	}
	caPEM, _ := os.ReadFile(rs.pki.Path(refbackend.CAFile))
	pinned, _ := os.ReadFile(id.CAFile())
	if string(caPEM) != string(pinned) {
		t.Error("the pinned CA is not the backend's CA")
	}
	keyBefore, _ := os.ReadFile(id.KeyFile())

	// The token was spent: the same token again is refused with the sentence.
	_, err = Enrol(ctx(t), Options{Server: rs.url, Token: "tok-1", Site: "000.31.20.H29", CAFingerprint: rs.fp, StateDir: t.TempDir()})
	if !errors.Is(err, ErrTokenRefused) {
		t.Fatalf("replay: %v, want ErrTokenRefused", err)
	}
	if err.Error() != "the enrolment token was refused: it is wrong or has already been used; ask for a new token" {
		t.Errorf("replay message %q", err.Error())
	}
	var ee *Error
	if !errors.As(err, &ee) || !strings.HasPrefix(ee.Message("vi"), "mã đăng ký bị từ chối") {
		t.Errorf("Vietnamese message missing: %v", err)
	}

	// The certificate works on the mutual-TLS API; no certificate does not.
	cert := id.TLSCertificate()
	if code, err := get(t, rs, id, &cert); err != nil || code != http.StatusOK {
		t.Fatalf("GET /v1/payments/X with the issued certificate: %d %v", code, err)
	}
	if code, err := get(t, rs, id, nil); err != nil || code != http.StatusUnauthorized {
		t.Fatalf("GET /v1/payments/X without a client certificate: %d %v, want 401", code, err)
	}

	// Renewal: same key, same subject, later expiry.
	time.Sleep(1100 * time.Millisecond) // NotAfter has one-second resolution
	nid, err := Renew(ctx(t), id, RenewOptions{Server: rs.url})
	if err != nil {
		t.Fatal(err)
	}
	if !nid.NotAfter().After(id.NotAfter()) {
		t.Errorf("renewed NotAfter %v not after %v", nid.NotAfter(), id.NotAfter())
	}
	if nid.Certificate().SerialNumber.Cmp(id.Certificate().SerialNumber) == 0 {
		t.Error("renewal returned the same certificate")
	}
	if !samePublic(nid.PrivateKey(), id.PrivateKey()) || nid.KioskID() != "kiosk-e2e" || nid.Site() != "000.31.20.H29" {
		t.Error("renewal changed the key or the subject")
	}
	if keyAfter, _ := os.ReadFile(nid.KeyFile()); string(keyAfter) != string(keyBefore) {
		t.Error("the key file changed")
	}
	cert = nid.TLSCertificate()
	if code, err := get(t, rs, nid, &cert); err != nil || code != http.StatusOK {
		t.Fatalf("GET with the renewed certificate: %d %v", code, err)
	}

	// Re-provisioning the same state directory keeps the key.
	id2, err := Enrol(ctx(t), Options{Server: rs.url, Token: "tok-2", Site: "000.31.20.H29", KioskID: "kiosk-e2e", CAFingerprint: rs.fp, StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	if !samePublic(id2.PrivateKey(), id.PrivateKey()) {
		t.Error("re-provisioning replaced the device key")
	}
}

func TestEnrolRefusals(t *testing.T) {
	t.Parallel()
	rs := startRef(t, refbackend.Options{ESTTokens: []string{"good"}})
	other := startRef(t, refbackend.Options{})
	wrongFP := other.fp
	tests := []struct {
		name string
		opt  Options
		is   error
		want string
	}{
		{"wrong fingerprint", Options{Token: "good", CAFingerprint: wrongFP}, ErrCAMismatch, "does not match the pinned CA"},
		{"wrong CA file", Options{Token: "good", CAFile: other.pki.Path(refbackend.CAFile)}, ErrCAMismatch, "does not match the pinned CA"},
		{"unknown token", Options{Token: "never-issued", CAFingerprint: rs.fp}, ErrTokenRefused, "ask for a new token"},
		{"no pin", Options{Token: "good"}, nil, "exactly one of a CA fingerprint and a CA file"},
		{"bad fingerprint", Options{Token: "good", CAFingerprint: "12:34"}, nil, "not a SHA-256"},
		{"bad site", Options{Token: "good", CAFingerprint: rs.fp, Site: "a/b"}, nil, "site code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opt.Server, tt.opt.StateDir = rs.url, t.TempDir()
			if tt.opt.Site == "" {
				tt.opt.Site = "SITE"
			}
			_, err := Enrol(ctx(t), tt.opt)
			if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %v containing %q", err, tt.is, tt.want)
			}
			if _, err := identity.Load(tt.opt.StateDir); !errors.Is(err, identity.ErrNotProvisioned) {
				t.Errorf("a failed enrolment left an identity: %v", err)
			}
		})
	}
	// The good token was not spent by the refused attempts above, and works
	// with a CA file as the trust anchor.
	id, err := Enrol(ctx(t), Options{Server: rs.url, Token: "good", Site: "SITE", CAFile: rs.pki.Path(refbackend.CAFile), StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id.KioskID(), "kiosk-site-") {
		t.Errorf("derived kiosk id %q", id.KioskID())
	}
}

func TestNetworkErrorIsWrapped(t *testing.T) {
	t.Parallel()
	_, err := Enrol(ctx(t), Options{Server: "https://127.0.0.1:1", Token: "t", Site: "S", CAFingerprint: strings.Repeat("ab", 32), StateDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "cacerts at https://127.0.0.1:1") || errors.Is(err, ErrTokenRefused) {
		t.Fatalf("got %v", err)
	}
}

func TestDemoEnrolmentToken(t *testing.T) {
	t.Parallel()
	for _, demo := range []bool{false, true} {
		rs := startRef(t, refbackend.Options{DemoEnrolment: demo})
		for i := range 2 {
			_, err := Enrol(ctx(t), Options{Server: rs.url, Token: refbackend.DemoEnrolmentToken, Site: "DEMO", CAFingerprint: rs.fp, StateDir: t.TempDir()})
			if demo && err != nil {
				t.Fatalf("demo enrolment %d: %v", i, err)
			}
			if !demo && !errors.Is(err, ErrTokenRefused) {
				t.Fatalf("demo token without DemoEnrolment: %v", err)
			}
		}
	}
}

func TestParseFingerprint(t *testing.T) {
	t.Parallel()
	want := strings.Repeat("ab", 32)
	for _, in := range []string{want, strings.ToUpper(want), strings.TrimSuffix(strings.Repeat("AB:", 32), ":"), " " + want + "\n"} {
		b, err := ParseFingerprint(in)
		if err != nil || len(b) != 32 || b[0] != 0xab {
			t.Errorf("%q: %x %v", in, b, err)
		}
	}
	for _, in := range []string{"", "abc", strings.Repeat("ab", 31), strings.Repeat("zz", 32)} {
		if _, err := ParseFingerprint(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// TestRenewer drives the subsystem with a moved clock: not due, due (renews
// over the wire), close to expiry, expired.
func TestRenewer(t *testing.T) {
	t.Parallel()
	rs := startRef(t, refbackend.Options{ESTTokens: []string{"t"}})
	state := t.TempDir()
	id, err := Enrol(ctx(t), Options{Server: rs.url, Token: "t", Site: "S", CAFingerprint: rs.fp, StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Pointer[time.Time]
	setClock := func(t time.Time) { clock.Store(&t) }
	setClock(time.Now())
	reg := prometheus.NewRegistry()
	// The loop's own first check may run late on a loaded machine, after the
	// clock moved: room for both renewals, so neither blocks.
	renewed := make(chan *identity.Identity, 4)
	r, err := NewRenewer(RenewerOptions{StateDir: state, Server: rs.url, Registerer: reg, CheckInterval: time.Hour,
		Now:     func() time.Time { return *clock.Load() },
		OnRenew: func(n *identity.Identity) { renewed <- n }})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	defer r.Stop(ctx(t))
	if h := r.Health(); h.State != daemon.StateOK {
		t.Errorf("fresh certificate: %+v", h)
	}
	if got := testutil.ToFloat64(r.expiry); got != float64(id.NotAfter().Unix()) {
		t.Errorf("gauge %v, want %v", got, id.NotAfter().Unix())
	}
	if err := r.Check(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if r.Identity().Certificate().SerialNumber.Cmp(id.Certificate().SerialNumber) != 0 {
		t.Fatal("renewed before it was due")
	}

	life := id.NotAfter().Sub(id.NotBefore())
	setClock(id.NotBefore().Add(life*2/3 + time.Second))
	time.Sleep(1100 * time.Millisecond) // a later NotAfter needs a later second
	if err := r.Check(ctx(t)); err != nil {
		t.Fatal(err)
	}
	<-renewed
	nid := r.Identity()
	if !nid.NotAfter().After(id.NotAfter()) {
		t.Fatalf("not renewed: %v vs %v", nid.NotAfter(), id.NotAfter())
	}
	if got := testutil.ToFloat64(r.expiry); got != float64(nid.NotAfter().Unix()) {
		t.Errorf("gauge after renewal %v, want %v", got, nid.NotAfter().Unix())
	}
	if n, err := testutil.GatherAndCount(reg, "kioskd_cert_expiry_timestamp_seconds"); err != nil || n != 1 {
		t.Errorf("registered gauge: %d %v", n, err)
	}

	setClock(nid.NotAfter().Add(-24 * time.Hour))
	if h := r.Health(); h.State != daemon.StateDegraded || !strings.Contains(h.Reason, "expires in") {
		t.Errorf("a day left: %+v", h)
	}
	setClock(nid.NotAfter().Add(time.Second))
	if h := r.Health(); h.State != daemon.StateFailed || !strings.Contains(h.Reason, "expired") {
		t.Errorf("expired: %+v", h)
	}
}

func TestRenewerNotProvisioned(t *testing.T) {
	t.Parallel()
	r, err := NewRenewer(RenewerOptions{StateDir: t.TempDir(), Server: "https://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx(t)); !errors.Is(err, identity.ErrNotProvisioned) {
		t.Fatalf("got %v", err)
	}
}

func samePublic(a, b crypto.Signer) bool {
	pa, ok := a.Public().(*ecdsa.PublicKey)
	return ok && pa.Equal(b.Public())
}
