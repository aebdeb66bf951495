package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/backend/refbackend"
	"github.com/vnkiosk/kiosk/provisioning/enrol"
	"github.com/vnkiosk/kiosk/provisioning/identity"
)

// TestSiteConfigFetch provisions a kiosk against a reference backend with a
// one-time token, then fetches its site configuration: first the demo
// document, again (nothing to do), a newer one (what changed is printed), and
// a tampered one (refused, the applied one kept).
func TestSiteConfigFetch(t *testing.T) {
	t.Parallel()
	const site = "000.31.20.H29"
	dir := t.TempDir()
	pki, err := refbackend.EnsurePKI(filepath.Join(dir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := refbackend.New(refbackend.Options{ESTTokens: []string{"tok-sc"}})
	if err != nil {
		t.Fatal(err)
	}
	url, err := srv.Start("127.0.0.1:0", pki)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	state := filepath.Join(dir, "state")
	if _, err := enrol.Enrol(ctx, enrol.Options{Server: url, Token: "tok-sc", Site: site, KioskID: "kiosk-sc",
		CAFile: pki.Path(refbackend.CAFile), StateDir: state}); err != nil {
		t.Fatal(err)
	}
	if _, err := identity.Load(state); err != nil {
		t.Fatal(err)
	}

	expect := func(args []string, wantCode int, wants ...string) string {
		t.Helper()
		code, stdout, stderr := run(args...)
		if code != wantCode {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q; want exit %d", args, code, stdout, stderr, wantCode)
		}
		for _, w := range wants {
			if !strings.Contains(stdout+stderr, w) {
				t.Errorf("%v: output %q lacks %q", args, stdout+stderr, w)
			}
		}
		return stdout
	}
	fetch := []string{"site-config", "fetch", "--state-dir", state, "--server", url}
	expect(fetch, 0, "site configuration version 1 applied (none before)", "site: "+site, "procedures: 1.001193")
	expect(fetch, 0, "site configuration version 1 is already applied")

	v2, _ := json.Marshal(map[string]any{"version": 2, "site": site, "issued_at": time.Now().UTC().Format(time.RFC3339),
		"procedures": []string{"1.004873", "1.004194"}, "printer": map[string]string{"template": "compact"}})
	srv.SetSiteConfig(site, v2)
	// The backend URL may come from kioskd's configuration instead of --server.
	cfgFile := filepath.Join(dir, "kioskd.yaml")
	if err := os.WriteFile(cfgFile, []byte("kiosk:\n  id: kiosk-sc\nsite:\n  code: \""+site+"\"\nbackend:\n  url: "+url+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := expect([]string{"site-config", "fetch", "--state-dir", state, "--config", cfgFile}, 0,
		"site configuration version 2 applied (was 1)", "printer template: compact (changed)", "payment account: as in the configuration file (changed)")
	if !strings.Contains(out, "-1.001193") || strings.Contains(out, "+1.004873") {
		t.Errorf("procedure changes not shown: %q", out)
	}

	v3 := bytes.Replace(v2, []byte(`"version":2`), []byte(`"version":3`), 1)
	srv.SetSiteConfig(site, v3)
	srv.TamperSiteConfig(func(_ string, b []byte) []byte { return bytes.Replace(b, []byte("compact"), []byte("default"), 1) })
	expect(fetch, 1, "refused, the applied configuration is kept", "tampered")
	expect([]string{"site-config", "show", "--state-dir", state}, 0, "site configuration version 2, issued", "verified", "procedures: 1.004873, 1.004194")

	expect([]string{"site-config", "fetch", "--state-dir", state, "--config", filepath.Join(dir, "missing.yaml")}, 2, "give --server")
	expect([]string{"site-config", "show", "--state-dir", t.TempDir()}, 1, "no site configuration applied")
}
