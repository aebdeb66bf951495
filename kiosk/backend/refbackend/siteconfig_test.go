package refbackend

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/provisioning/siteconfig"
)

func getSiteConfig(t *testing.T, hc *http.Client, url string) (int, []byte, []byte) {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, []byte(resp.Header.Get(siteconfig.HeaderName))
}

// TestSiteConfigServed checks the signer certificate, the demo document, a
// configured document served byte for byte, the tamper hook, and that the
// PKI's kiosk certificate (no site) may read any site.
func TestSiteConfigServed(t *testing.T) {
	t.Parallel()
	p, err := EnsurePKI(filepath.Join(t.TempDir(), "tls"))
	if err != nil {
		t.Fatal(err)
	}
	own := []byte(`{"version": 4, "site": "S2", "issued_at": "` + time.Now().UTC().Format(time.RFC3339) + `", "printer": {"template": "compact"}}`)
	srv, err := New(Options{SiteConfigs: map[string]json.RawMessage{"S2": own}})
	if err != nil {
		t.Fatal(err)
	}
	url, err := srv.Start("127.0.0.1:0", p)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	_, signer, err := p.SiteConfigSigner()
	if err != nil {
		t.Fatal(err)
	}
	if signer.Subject.CommonName != siteconfig.SignerCommonName || !slices.Equal(signer.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}) {
		t.Errorf("signer: CN %q, EKU %v", signer.Subject.CommonName, signer.ExtKeyUsage)
	}
	ca, _, err := p.loadCA()
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	hc := client(t, p)

	code, body, sig := getSiteConfig(t, hc, url+"/v1/site-config/S1")
	if code != http.StatusOK {
		t.Fatalf("demo: HTTP %d %s", code, body)
	}
	doc, err := siteconfig.Verify(body, sig, roots, "S1", time.Now())
	if err != nil || doc.Version != 1 || doc.Payment == nil {
		t.Fatalf("demo document: %+v, %v", doc, err)
	}

	code, body, sig = getSiteConfig(t, hc, url+"/v1/site-config/S2")
	if code != http.StatusOK || !bytes.Equal(body, own) {
		t.Fatalf("configured document: HTTP %d %q", code, body)
	}
	if _, err := siteconfig.Verify(body, sig, roots, "S2", time.Now()); err != nil {
		t.Fatal(err)
	}

	srv.TamperSiteConfig(func(_ string, b []byte) []byte { return bytes.Replace(b, []byte("compact"), []byte("default"), 1) })
	_, body, sig = getSiteConfig(t, hc, url+"/v1/site-config/S2")
	if _, err := siteconfig.Verify(body, sig, roots, "S2", time.Now()); !errors.Is(err, siteconfig.ErrSignature) {
		t.Errorf("tampered answer verified: %v", err)
	}

	if code, _, _ := getSiteConfig(t, hc, url+"/v1/site-config/bad%20site"); code != http.StatusBadRequest {
		t.Errorf("bad site code: HTTP %d", code)
	}
}

func TestSiteConfigOptions(t *testing.T) {
	t.Parallel()
	if _, err := New(Options{SiteConfigs: map[string]json.RawMessage{"S": json.RawMessage(`{"version":`)}}); err == nil {
		t.Error("New accepted a site configuration that is not JSON")
	}
	// Served without Start there is no PKI to sign with.
	srv, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/site-config/S1", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("without a signer: HTTP %d", rec.Code)
	}
}
