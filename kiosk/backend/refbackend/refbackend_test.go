package refbackend

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// client is an HTTP client holding the PKI's kiosk certificate.
func client(t *testing.T, p *PKI) *http.Client {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(p.Path(KioskCertFile), p.Path(KioskKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p.Path(CAFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(b)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}}}
	t.Cleanup(hc.CloseIdleConnections)
	return hc
}

func post(t *testing.T, hc *http.Client, url, key, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// TestPersistAndSimEndpoints stores filings through the wire, restarts on the
// same database file and finds them with their delivery counts in /_sim/filings.
func TestPersistAndSimEndpoints(t *testing.T) {
	dir := t.TempDir()
	pki, err := EnsurePKI(filepath.Join(dir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "db.json")
	start := func() (*Server, string) {
		s, err := New(Options{DB: db, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		u, err := s.Start("127.0.0.1:0", pki)
		if err != nil {
			t.Fatal(err)
		}
		return s, u
	}
	hc := client(t, pki)
	s, u := start()
	filing := `{"ma_ho_so":"H01-1","ma_tthc":"1.001193","created_at":"2026-01-01T08:00:00Z","filing":{"x":1},"attachments":[{"name":"a.jpg","content_type":"image/jpeg","data":"AAEC"}]}`
	for i, want := range []int{201, 200} {
		if code, body := post(t, hc, u+"/v1/filings", "key-1", filing); code != want || !strings.Contains(body, `"ma_ho_so":"H01-1"`) {
			t.Fatalf("post %d: %d %s", i, code, body)
		}
	}
	for _, bad := range []struct{ key, body string }{
		{"", filing},
		{"key-2", `{"ma_ho_so":"bad code!","ma_tthc":"x","filing":{}}`},
		{"key-3", `{"ma_ho_so":"H01-2","ma_tthc":"","filing":{}}`},
		{"key-4", `not json`},
	} {
		if code, body := post(t, hc, u+"/v1/filings", bad.key, bad.body); code != 400 || !strings.Contains(body, `"code":"validation"`) {
			t.Errorf("%q: %d %s", bad.body, code, body)
		}
	}
	if code, _ := post(t, hc, u+"/_sim/filings/H01-1/status", "", ""); code != 400 {
		t.Errorf("status without code: %d", code)
	}
	if code, _ := post(t, hc, u+"/_sim/filings/H01-1/status?code=4", "", ""); code != 204 {
		t.Errorf("status 4: %d", code)
	}
	s.Close()

	s, u = start()
	defer s.Close()
	resp, err := hc.Get(u + "/_sim/filings")
	if err != nil {
		t.Fatal(err)
	}
	var got []SimFiling
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	// sha256 of `{"x":1}`
	if len(got) != 1 || got[0].Deliveries != 2 || got[0].IdempotencyKey != "key-1" ||
		got[0].SHA256 != "5041bf1f713df204784353e82f6a4a535931cb64f1f4b4a5aeaffcb720918b22" {
		t.Fatalf("after restart: %+v", got)
	}
	if code, body := post(t, hc, u+"/v1/filings", "key-1", filing); code != 200 || !strings.Contains(body, "H01-1") {
		t.Fatalf("repeat after restart: %d %s", code, body)
	}
	resp, err = hc.Get(u + "/v1/filings/H01-1")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Code int `json:"trang_thai_ho_so"`
	}
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if st.Code != 4 {
		t.Fatalf("status after restart: %d", st.Code)
	}
	if code, _ := post(t, hc, u+"/_sim/payments/QR-9/pay", "", ""); code != 204 {
		t.Fatalf("pay: %d", code)
	}
	resp, err = hc.Get(u + "/v1/payments/QR-9?wait=30s")
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ Status string }
	json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	if p.Status != "paid" {
		t.Fatalf("payment after /_sim pay: %+v", p)
	}
}

func TestEnsurePKIKeepsExisting(t *testing.T) {
	dir := t.TempDir()
	if _, err := EnsurePKI(dir); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, CAFile))
	p, err := EnsurePKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(p.Path(CAFile))
	if !bytes.Equal(before, after) {
		t.Fatal("EnsurePKI replaced an existing CA")
	}
	if err := p.IssueKiosk("k2.pem", "k2-key.pem", "kiosk-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ServerTLSConfig(); err != nil {
		t.Fatal(err)
	}
}

func TestDemoSwitches(t *testing.T) {
	t.Parallel()
	pki, err := EnsurePKI(filepath.Join(t.TempDir(), "tls"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Start("127.0.0.1:0", pki)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	hc := client(t, pki)
	get := func(path string) int {
		resp, err := hc.Get(u + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/v1/payments/REF-1?wait=0s"); code != 200 {
		t.Fatalf("payment poll: %d", code)
	}
	if got := s.PendingPayments(); len(got) != 1 || got[0] != "REF-1" {
		t.Fatalf("pending %v, want [REF-1]", got)
	}
	s.Pay("REF-1")
	if got := s.PendingPayments(); len(got) != 0 {
		t.Fatalf("pending after pay: %v", got)
	}
	s.SetErrorRate(1)
	if code := get("/v1/payments/REF-2?wait=0s"); code != 500 {
		t.Errorf("backend switched down answered %d", code)
	}
	s.SetErrorRate(0)
	if code := get("/v1/payments/REF-2?wait=0s"); code != 200 || s.ErrorRate() != 0 {
		t.Errorf("backend switched up answered %d", code)
	}
}
