package filingsig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vnkiosk/kiosk/kiosk/filing"
)

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func exampleJSON(t *testing.T) []byte {
	t.Helper()
	f, err := filing.Example("1.001193")
	if err != nil {
		t.Fatal(err)
	}
	b, err := filing.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// forge returns a JWS with the given header JSON and signature, signed by key
// over body when sig is nil.
func forge(t *testing.T, key *ecdsa.PrivateKey, hdr string, body []byte, sig []byte) string {
	t.Helper()
	h := base64.RawURLEncoding.EncodeToString([]byte(hdr))
	if sig == nil {
		digest := sha256Sum(signingInput(h, body))
		r, s, err := ecdsa.Sign(rand.Reader, key, digest)
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	}
	return h + ".." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestRoundTrip(t *testing.T) {
	key := newKey(t)
	body := exampleJSON(t)
	kid := KeyID(&key.PublicKey)
	if len(kid) != 64 {
		t.Fatalf("kid %q", kid)
	}
	jws, err := Sign(body, key, kid)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(jws, ".")
	if len(parts) != 3 || parts[1] != "" {
		t.Fatalf("not detached: %s", jws)
	}
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h map[string]any
	if err := json.Unmarshal(hb, &h); err != nil || h["alg"] != "ES256" || h["kid"] != kid || len(h) != 2 {
		t.Fatalf("header %s: %v", hb, err)
	}
	if err := Verify(body, jws, &key.PublicKey); err != nil {
		t.Fatal(err)
	}
	// A hand-made header with typ and x5c is accepted too.
	other := forge(t, key, `{"alg":"ES256","kid":"`+kid+`","typ":"JOSE","x5c":["AAAA"]}`, body, nil)
	if err := Verify(body, other, &key.PublicKey); err != nil {
		t.Fatal(err)
	}
}

func TestSignRejects(t *testing.T) {
	key := newKey(t)
	body := []byte(`{}`)
	if _, err := Sign(body, key, "abc"); err == nil {
		t.Error("short kid accepted")
	}
	if _, err := Sign(body, key, KeyID(&newKey(t).PublicKey)); err == nil {
		t.Error("kid of another key accepted")
	}
	if _, err := Sign(body, nil, KeyID(&key.PublicKey)); err == nil {
		t.Error("nil key accepted")
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := Sign(body, p384, KeyID(&p384.PublicKey)); err == nil {
		t.Error("P-384 key accepted")
	}
}

func TestVerifyRejects(t *testing.T) {
	key := newKey(t)
	pub := &key.PublicKey
	kid := KeyID(pub)
	body := exampleJSON(t)
	good, err := Sign(body, key, kid)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	enc := base64.RawURLEncoding.EncodeToString

	tampered := []byte(strings.Replace(string(body), `"active_auth":"not_supported"`, `"active_auth":"ok"`, 1))
	if string(tampered) == string(body) {
		t.Fatal("test filing has no active_auth to tamper with")
	}
	oneByte := append([]byte(nil), body...)
	oneByte[len(oneByte)/2] ^= 1
	asn1Sig, err := ecdsa.SignASN1(rand.Reader, key, sha256Sum(signingInput(parts[0], body)))
	if err != nil {
		t.Fatal(err)
	}
	otherKey := newKey(t)

	cases := []struct {
		name string
		body []byte
		jws  string
		pub  *ecdsa.PublicKey
	}{
		{"empty", body, "", pub},
		{"two parts", body, parts[0] + "." + parts[2], pub},
		{"four parts", body, good + ".", pub},
		{"embedded payload", body, parts[0] + "." + enc(body) + "." + parts[2], pub},
		{"alg none", body, enc([]byte(`{"alg":"none","kid":"`+kid+`"}`)) + "..", pub},
		{"alg none signed", body, forge(t, key, `{"alg":"none","kid":"`+kid+`"}`, body, nil), pub},
		{"alg HS256", body, forge(t, key, `{"alg":"HS256","kid":"`+kid+`"}`, body, nil), pub},
		{"alg es256", body, forge(t, key, `{"alg":"es256","kid":"`+kid+`"}`, body, nil), pub},
		{"no alg", body, forge(t, key, `{"kid":"`+kid+`"}`, body, nil), pub},
		{"kid upper-case", body, forge(t, key, `{"alg":"ES256","kid":"`+strings.ToUpper(kid)+`"}`, body, nil), pub},
		{"kid short", body, forge(t, key, `{"alg":"ES256","kid":"`+kid[:40]+`"}`, body, nil), pub},
		{"kid missing", body, forge(t, key, `{"alg":"ES256"}`, body, nil), pub},
		{"kid not a string", body, forge(t, key, `{"alg":"ES256","kid":1}`, body, nil), pub},
		{"kid of another key", body, forge(t, key, `{"alg":"ES256","kid":"`+KeyID(&otherKey.PublicKey)+`"}`, body, nil), pub},
		{"b64 false", body, forge(t, key, `{"alg":"ES256","kid":"`+kid+`","b64":false,"crit":["b64"]}`, body, nil), pub},
		{"crit", body, forge(t, key, `{"alg":"ES256","kid":"`+kid+`","crit":["exp"]}`, body, nil), pub},
		{"header not JSON", body, forge(t, key, `alg=ES256`, body, nil), pub},
		{"header trailing data", body, forge(t, key, `{"alg":"ES256","kid":"`+kid+`"}{}`, body, nil), pub},
		{"header padded base64", body, parts[0] + "=.." + parts[2], pub},
		{"header std base64", body, strings.NewReplacer("-", "+", "_", "/").Replace(parts[0]) + "+.." + parts[2], pub},
		{"tampered header", body, enc([]byte(`{"alg":"ES256","kid":"`+kid+`" }`)) + ".." + parts[2], pub},
		{"signature ASN.1 DER", body, parts[0] + ".." + enc(asn1Sig), pub},
		{"signature 63 bytes", body, parts[0] + ".." + enc(sig[:63]), pub},
		{"signature 65 bytes", body, parts[0] + ".." + enc(append(append([]byte(nil), sig...), 0)), pub},
		{"signature not base64url", body, parts[0] + "..!" + parts[2][1:], pub},
		{"signature zero", body, parts[0] + ".." + enc(make([]byte, 64)), pub},
		{"signature flipped", body, parts[0] + ".." + enc(append(append([]byte(nil), sig[:63]...), sig[63]^1)), pub},
		{"tampered evidence", tampered, good, pub},
		{"tampered byte", oneByte, good, pub},
		{"appended byte", append(append([]byte(nil), body...), ' '), good, pub},
		{"empty filing", nil, good, pub},
		{"other public key", body, good, &otherKey.PublicKey},
		{"nil key", body, good, nil},
		{"too long", body, good + strings.Repeat("A", maxJWS), pub},
	}
	for _, c := range cases {
		if err := Verify(c.body, c.jws, c.pub); err == nil {
			t.Errorf("%s: accepted", c.name)
		} else {
			t.Logf("%s: %v", c.name, err)
		}
	}
}

func TestSignerHeaderSignsWireForm(t *testing.T) {
	key := newKey(t)
	body := []byte("{\n  \"name\": \"Nguyễn & <Con>\"\n}")
	name, value, err := Signer{Key: key}.Header(body)
	if err != nil || name != "Filing-Signature" {
		t.Fatalf("%q %v", name, err)
	}
	wire, _ := json.Marshal(struct {
		F json.RawMessage `json:"f"`
	}{body})
	var got struct {
		F json.RawMessage `json:"f"`
	}
	if err := json.Unmarshal(wire, &got); err != nil {
		t.Fatal(err)
	}
	if err := Verify(got.F, value, &key.PublicKey); err != nil {
		t.Fatalf("signature over the bytes json.Marshal sends: %v", err)
	}
	if _, _, err := (Signer{Key: key}).Header([]byte("not json")); err == nil {
		t.Error("non-JSON filing signed")
	}
	if _, _, err := (Signer{}).Header(body); err == nil {
		t.Error("signed without a key")
	}
}

func TestLoadOrCreateDeviceKey(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreateDeviceKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "keys", DeviceKeyFile)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), "-----BEGIN PRIVATE KEY-----") {
		t.Fatalf("not PKCS#8 PEM: %.30s", b)
	}
	k2, err := LoadOrCreateDeviceKey(dir)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("second load gave another key: %v", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateDeviceKey(dir); err == nil {
		t.Error("world-readable key used")
	}
	if err := os.WriteFile(path, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateDeviceKey(dir); err == nil {
		t.Error("junk key file accepted")
	}
}

func sha256Sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
