package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// issue makes a CA and a client certificate for pub.
func issue(t *testing.T, cn, ou string, pub *ecdsa.PublicKey) (leaf, ca *x509.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(der)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn, OrganizationalUnit: []string{ou}},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(30 * time.Minute), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err = x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ = x509.ParseCertificate(der)
	return leaf, ca
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestEnsureKeyCreatesOnceAndKeeps(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	k1, err := EnsureKey(state)
	if err != nil {
		t.Fatal(err)
	}
	if m := mode(t, filepath.Join(state, DirName, KeyName)); m != 0o600 {
		t.Errorf("key mode %o, want 600", m)
	}
	if m := mode(t, filepath.Join(state, DirName)); m != 0o700 {
		t.Errorf("dir mode %o, want 700", m)
	}
	if k1.Curve != elliptic.P256() {
		t.Errorf("curve %s", k1.Curve.Params().Name)
	}
	k2, err := EnsureKey(state)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Equal(k2) {
		t.Fatal("EnsureKey replaced an existing key")
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	if _, err := Load(state); !errors.Is(err, ErrNotProvisioned) {
		t.Fatalf("empty state dir: %v, want ErrNotProvisioned", err)
	}
	key, err := EnsureKey(state)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(state); !errors.Is(err, ErrNotProvisioned) {
		t.Fatalf("key only: %v, want ErrNotProvisioned", err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	wrong, ca := issue(t, "kiosk-x", "SITE1", &other.PublicKey)
	if err := Store(state, []*x509.Certificate{wrong}, []*x509.Certificate{ca}); err == nil || !strings.Contains(err.Error(), "device key") {
		t.Fatalf("storing a certificate for another key: %v", err)
	}
	leaf, ca := issue(t, "kiosk-7", "SITE1", &key.PublicKey)
	if err := Store(state, []*x509.Certificate{leaf}, []*x509.Certificate{ca}); err != nil {
		t.Fatal(err)
	}
	id, err := Load(state)
	if err != nil {
		t.Fatal(err)
	}
	if id.KioskID() != "kiosk-7" || id.Site() != "SITE1" || !id.NotAfter().Equal(leaf.NotAfter) {
		t.Errorf("id %q site %q notAfter %v", id.KioskID(), id.Site(), id.NotAfter())
	}
	if id.CertFile() != filepath.Join(state, "identity", "device-cert.pem") || id.KeyFile() != filepath.Join(state, "identity", "device-key.pem") || id.CAFile() != filepath.Join(state, "identity", "ca.pem") {
		t.Errorf("paths %s %s %s", id.CertFile(), id.KeyFile(), id.CAFile())
	}
	tc := id.TLSCertificate()
	if len(tc.Certificate) != 1 || tc.Leaf != leaf && !tc.Leaf.Equal(leaf) {
		t.Errorf("TLS certificate %+v", tc)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: id.CAPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("CAPool does not verify the leaf: %v", err)
	}
	// No temporary files are left behind by the atomic writes.
	ents, _ := os.ReadDir(filepath.Join(state, DirName))
	if len(ents) != 3 {
		t.Errorf("identity dir holds %d entries, want 3", len(ents))
	}
	// A certificate that does not match the key on disk is refused at load.
	if err := os.WriteFile(id.CertFile(), encodeCerts([]*x509.Certificate{wrong}), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(state); err == nil || errors.Is(err, ErrNotProvisioned) {
		t.Fatalf("mismatched files: %v", err)
	}
}

// TestKeyStorage is not parallel: it points the TPM device path elsewhere.
func TestKeyStorage(t *testing.T) {
	saved := tpmDevice
	t.Cleanup(func() { tpmDevice = saved })
	tpmDevice = filepath.Join(t.TempDir(), "tpmrm0")
	if s := KeyStorage(); !strings.Contains(s, "no TPM") {
		t.Errorf("without TPM: %q", s)
	}
	if err := os.WriteFile(tpmDevice, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if s := KeyStorage(); !strings.Contains(s, "TPM 2.0 is present") || !strings.Contains(s, "keeps the key in a file") {
		t.Errorf("with TPM: %q", s)
	}
}
