package siteconfig_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/backend/refbackend"
	"github.com/vnkiosk/kiosk/kiosk/procedure"
	"github.com/vnkiosk/kiosk/provisioning/enrol"
	"github.com/vnkiosk/kiosk/provisioning/identity"
	"github.com/vnkiosk/kiosk/provisioning/siteconfig"
)

const site = "000.31.20.H29"

// TestFetchVerifyApplyEndToEnd enrols a kiosk with the reference backend
// (one-time token, CA pinned by fingerprint), then fetches its site
// configuration over mutual TLS, verifies and applies it; a newer document
// follows, a tampered answer is refused with the applied one kept, and
// another site's document is not served to this kiosk.
func TestFetchVerifyApplyEndToEnd(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pki, err := refbackend.EnsurePKI(filepath.Join(t.TempDir(), "tls"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := refbackend.New(refbackend.Options{ESTTokens: []string{"tok-siteconfig"}})
	if err != nil {
		t.Fatal(err)
	}
	url, err := srv.Start("127.0.0.1:0", pki)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	caPEM, err := os.ReadFile(pki.Path(refbackend.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := identity.ParseCertificates(caPEM)
	state := t.TempDir()
	id, err := enrol.Enrol(ctx, enrol.Options{Server: url, Token: "tok-siteconfig", Site: site, KioskID: "kiosk-sc",
		CAFingerprint: identity.Fingerprint(ca[0]), StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: id.CAPool(), Certificates: []tls.Certificate{id.TLSCertificate()}}}}
	t.Cleanup(client.CloseIdleConnections)

	fetchApply := func() (*siteconfig.Document, error) {
		raw, sig, err := siteconfig.Fetch(ctx, client, url, site)
		if err != nil {
			return nil, err
		}
		doc, err := siteconfig.Verify(raw, sig, id.CAPool(), site, time.Now())
		if err != nil {
			return nil, err
		}
		return doc, siteconfig.Apply(state, doc, raw, sig)
	}

	// The demo document: every procedure, no CSCA.
	doc, err := fetchApply()
	if err != nil {
		t.Fatal(err)
	}
	if doc.Version != 1 || len(doc.Procedures) != len(procedure.All()) {
		t.Errorf("demo document: version %d, %d procedures", doc.Version, len(doc.Procedures))
	}
	if _, err := fetchApply(); !errors.Is(err, siteconfig.ErrReplay) {
		t.Errorf("fetching the same version again: %v, want ErrReplay", err)
	}

	v2, err := json.Marshal(map[string]any{"version": 2, "site": site, "issued_at": time.Now().UTC().Format(time.RFC3339),
		"procedures": []string{"1.004873"}, "printer": map[string]string{"template": "compact"}})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetSiteConfig(site, v2)
	if doc, err = fetchApply(); err != nil || doc.Version != 2 {
		t.Fatalf("version 2: %v, %v", doc, err)
	}
	applied, err := os.ReadFile(filepath.Join(siteconfig.Dir(state), siteconfig.DocName))
	if err != nil || !bytes.Equal(applied, v2) {
		t.Errorf("applied bytes %q, want the served %q (%v)", applied, v2, err)
	}

	// Version 3, changed on the way: refused, version 2 stays.
	v3 := bytes.Replace(v2, []byte(`"version":2`), []byte(`"version":3`), 1)
	srv.SetSiteConfig(site, v3)
	srv.TamperSiteConfig(func(_ string, body []byte) []byte {
		return bytes.Replace(body, []byte(`"1.004873"`), []byte(`"2.001417"`), 1)
	})
	_, err = fetchApply()
	if !errors.Is(err, siteconfig.ErrSignature) || !strings.Contains(err.Error(), "tampered") {
		t.Fatalf("tampered answer: %v, want ErrSignature", err)
	}
	if d, err := siteconfig.Load(state); err != nil || d.Version != 2 || d.Procedures[0] != "1.004873" {
		t.Fatalf("after the tampered answer, Load = %+v, %v; want version 2", d, err)
	}
	srv.TamperSiteConfig(nil)
	if doc, err = fetchApply(); err != nil || doc.Version != 3 {
		t.Fatalf("version 3: %v, %v", doc, err)
	}

	// This kiosk's certificate is for its own site only.
	if _, _, err := siteconfig.Fetch(ctx, client, url, "000.00.00.H01"); err == nil || !strings.Contains(err.Error(), "HTTP 403") {
		t.Errorf("another site's document: %v, want HTTP 403", err)
	}
	// Without a client certificate there is no answer at all.
	anon := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: id.CAPool()}}}
	defer anon.CloseIdleConnections()
	if _, _, err := siteconfig.Fetch(ctx, anon, url, site); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("without a client certificate: %v, want HTTP 401", err)
	}
}
