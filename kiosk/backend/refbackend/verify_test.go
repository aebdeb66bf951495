package refbackend

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vnkiosk/kiosk/kiosk/backend"
	"github.com/vnkiosk/kiosk/kiosk/filing"
	"github.com/vnkiosk/kiosk/kiosk/filing/filingsig"
)

// kioskKey is the private key of the PKI's kiosk certificate.
func kioskKey(t *testing.T, p *PKI) *ecdsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(p.Path(KioskKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatal("kiosk key is not PEM")
	}
	k, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func postSigned(t *testing.T, hc *http.Client, url, key string, body []byte, sig string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Idempotency-Key", key)
	if sig != "" {
		req.Header.Set(filingsig.HeaderName, sig)
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

func simFilings(t *testing.T, hc *http.Client, u string) []SimFiling {
	t.Helper()
	resp, err := hc.Get(u + "/_sim/filings")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got []SimFiling
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestFilingSignature sends a real filing signed by the kiosk certificate's key
// over mutual TLS, then tampered and badly signed variants, which are refused
// with 400 and never stored.
func TestFilingSignature(t *testing.T) {
	pki, err := EnsurePKI(filepath.Join(t.TempDir(), "tls"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Seed: 1, RequireSignature: true})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Start("127.0.0.1:0", pki)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hc := client(t, pki)
	signer := filingsig.Signer{Key: kioskKey(t, pki)}

	f, err := filing.Example("1.001193")
	if err != nil {
		t.Fatal(err)
	}
	f.Applicant.FullName = "Nguyễn Văn An & <Con>" // json.Marshal escapes these on the wire
	fb, err := filing.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	request := func(fj []byte) []byte {
		b, err := json.Marshal(backend.FilingRequest{MaHoSo: f.MaHoSo, MaTTHC: f.ProcedureCode,
			CreatedAt: f.CreatedAt, Filing: fj, Attachments: []backend.AttachmentWire{}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	_, sig, err := signer.Header(fb)
	if err != nil {
		t.Fatal(err)
	}
	good := request(fb)

	// Refused before anything is stored.
	tamperedFiling := bytes.Replace(fb, []byte(`"active_auth":"not_supported"`), []byte(`"active_auth":"ok"`), 1)
	if bytes.Equal(tamperedFiling, fb) {
		t.Fatal("nothing to tamper with")
	}
	oneByte := bytes.Clone(good)
	i := bytes.Index(oneByte, []byte(`"sod_sha256":"`)) + len(`"sod_sha256":"`)
	oneByte[i] ^= 1 // a hex digit becomes another
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherSig, err := filingsig.Sign(good, other, filingsig.KeyID(&other.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(sig, ".")
	for _, c := range []struct {
		name      string
		body      []byte
		sig, want string
	}{
		{"missing", good, "", "no Filing-Signature header"},
		{"tampered byte", oneByte, sig, "does not match"},
		{"tampered evidence", request(tamperedFiling), sig, "does not match"},
		{"another kiosk's key", good, otherSig, "kid names another key"},
		{"alg none", good, `eyJhbGciOiJub25lIn0..`, `algorithm \"none\"`},
		{"DER signature", good, parts[0] + "..MEQCIA", "not raw r||s"},
	} {
		code, body := postSigned(t, hc, u+"/v1/filings", "key-bad", c.body, c.sig)
		var e struct{ Code, Error string }
		json.Unmarshal([]byte(body), &e)
		if code != http.StatusBadRequest || e.Code != "validation" ||
			!strings.HasPrefix(e.Error, "filing signature does not verify: ") || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s", c.name, code, body)
		}
	}
	if got := simFilings(t, hc, u); len(got) != 0 {
		t.Fatalf("refused filings stored: %+v", got)
	}

	// The genuine one is stored, its bytes as signed.
	if code, body := postSigned(t, hc, u+"/v1/filings", "key-1", good, sig); code != http.StatusCreated {
		t.Fatalf("signed filing: %d %s", code, body)
	}
	before := simFilings(t, hc, u)
	if len(before) != 1 || before[0].MaHoSo != f.MaHoSo || before[0].Deliveries != 1 {
		t.Fatalf("after signed filing: %+v", before)
	}
	// A tampered repeat under the same key changes nothing.
	if code, body := postSigned(t, hc, u+"/v1/filings", "key-1", oneByte, sig); code != http.StatusBadRequest {
		t.Fatalf("tampered repeat: %d %s", code, body)
	}
	if after := simFilings(t, hc, u); len(after) != 1 || after[0] != before[0] {
		t.Fatalf("tampered repeat changed the store: %+v → %+v", before, after)
	}
}

// TestUnsignedAcceptedByDefault: without RequireSignature a filing without the
// header is stored, and one with a bad header still is not.
func TestUnsignedAcceptedByDefault(t *testing.T) {
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
	defer s.Close()
	hc := client(t, pki)
	body := []byte(`{"ma_ho_so":"H01-1","ma_tthc":"1.001193","created_at":"2026-01-01T08:00:00Z","filing":{"x":1}}`)
	if code, msg := postSigned(t, hc, u+"/v1/filings", "k-1", body, "e30..AA"); code != http.StatusBadRequest {
		t.Fatalf("bad signature: %d %s", code, msg)
	}
	if code, msg := postSigned(t, hc, u+"/v1/filings", "k-2", body, ""); code != http.StatusCreated {
		t.Fatalf("unsigned: %d %s", code, msg)
	}
}

// TestSignatureWithoutTLS: a signature cannot be checked without a client
// certificate, so it is refused.
func TestSignatureWithoutTLS(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest(http.MethodPost, "/v1/filings", nil)
	r.Header.Set(filingsig.HeaderName, "e30..AA")
	if err := s.checkFilingSignature(r, []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "client certificate") {
		t.Fatalf("got %v", err)
	}
}
