package refbackend

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestClientCertificateStillRequired: with the listener only asking for a
// client certificate, the API and the /_sim/ endpoints still refuse requests
// without one, while EST's cacerts answers them.
func TestClientCertificateStillRequired(t *testing.T) {
	t.Parallel()
	p, err := EnsurePKI(filepath.Join(t.TempDir(), "tls"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Start("127.0.0.1:0", p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, _ := os.ReadFile(p.Path(CAFile))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(b)
	anon := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer anon.CloseIdleConnections()
	withCert := client(t, p)
	tests := []struct {
		name string
		hc   *http.Client
		path string
		want int
	}{
		{"API without certificate", anon, "/v1/payments/X", http.StatusUnauthorized},
		{"sim without certificate", anon, "/_sim/filings", http.StatusUnauthorized},
		{"API with certificate", withCert, "/v1/payments/X", http.StatusOK},
		{"EST cacerts without certificate", anon, "/.well-known/est/cacerts", http.StatusOK},
	}
	for _, tt := range tests {
		resp, err := tt.hc.Get(u + tt.path)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
		if tt.path == "/.well-known/est/cacerts" && resp.Header.Get("Content-Type") != "application/pkcs7-mime" {
			t.Errorf("cacerts content type %q", resp.Header.Get("Content-Type"))
		}
	}
}

// TestTokenSpentOnce: many concurrent enrolments with one token, exactly one
// gets through; the demo token only works with DemoEnrolment, any number of
// times.
func TestTokenSpentOnce(t *testing.T) {
	t.Parallel()
	ca := newESTCA(nil, Options{ESTTokens: []string{"once"}}, func(string, ...any) {})
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ca.spend("once") {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || ca.tokenUsable("once") {
		t.Fatalf("%d enrolments with one token", ok.Load())
	}
	if ca.tokenUsable(DemoEnrolmentToken) || ca.spend(DemoEnrolmentToken) || ca.tokenUsable("") {
		t.Fatal("demo or empty token accepted without DemoEnrolment")
	}
	demo := newESTCA(nil, Options{DemoEnrolment: true}, func(string, ...any) {})
	for range 3 {
		if !demo.spend(DemoEnrolmentToken) {
			t.Fatal("demo token refused with DemoEnrolment")
		}
	}
	if demo.validity != DefaultESTValidity {
		t.Errorf("validity %s", demo.validity)
	}
}

func TestCheckKioskSubject(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name pkix.Name
		ok   bool
	}{
		{pkix.Name{CommonName: "kiosk-1", OrganizationalUnit: []string{"000.31.20.H29"}}, true},
		{pkix.Name{CommonName: "kiosk-1"}, true},
		{pkix.Name{}, false},
		{pkix.Name{CommonName: "a b"}, false},
		{pkix.Name{CommonName: "k", OrganizationalUnit: []string{"a", "b"}}, false},
		{pkix.Name{CommonName: "k", OrganizationalUnit: []string{"a/b"}}, false},
	} {
		if err := checkKioskSubject(tt.name); (err == nil) != tt.ok {
			t.Errorf("%+v: %v", tt.name, err)
		}
	}
}
