package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/internal/certreload"
	"github.com/vnkiosk/kiosk/kiosk/filing/filingsig"
	"github.com/vnkiosk/kiosk/provisioning/tpmkey"
	"github.com/vnkiosk/kiosk/provisioning/tpmkey/tpmkeytest"
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
	if pub, ok := k1.Public().(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("the device key is %T, not ECDSA P-256", k1.Public())
	}
	k2, err := EnsureKey(state)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Public().(*ecdsa.PublicKey).Equal(k2.Public()) {
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
	leaf, ca := issue(t, "kiosk-7", "SITE1", key.Public().(*ecdsa.PublicKey))
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

// TestKeyInTPM is not parallel: it points the TPM device path at a software
// TPM (swtpm). The key is created in the TPM, only its reference is written
// down, and the identity, the TLS client and the filing signer use it there.
func TestKeyInTPM(t *testing.T) {
	saved := tpmDevice
	t.Cleanup(func() { tpmDevice = saved })
	sw := tpmkeytest.Start(t, t.TempDir())
	t.Cleanup(func() { sw.Stop(t) })
	tpmDevice = sw.Sock
	state := t.TempDir()
	key, err := EnsureKey(state)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := key.(*tpmkey.Key); !ok {
		t.Fatalf("with a TPM present the device key is a %T", key)
	}
	if _, err := os.Stat(filepath.Join(state, DirName, KeyName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a key file was written beside the TPM key: %v", err)
	}
	again, err := EnsureKey(state)
	if err != nil || !again.Public().(*ecdsa.PublicKey).Equal(key.Public()) {
		t.Fatalf("EnsureKey again: %v", err)
	}
	leaf, ca := issue(t, "kiosk-tpm", "SITE1", key.Public().(*ecdsa.PublicKey))
	if err := Store(state, []*x509.Certificate{leaf}, []*x509.Certificate{ca}); err != nil {
		t.Fatal(err)
	}
	id, err := Load(state)
	if err != nil {
		t.Fatal(err)
	}
	if id.KeyFile() != tpmkey.RefPrefix+sw.Sock || !strings.Contains(id.KeyStorage(), "TPM 2.0") {
		t.Errorf("key reference %q, storage %q", id.KeyFile(), id.KeyStorage())
	}
	// The TLS clients load it as a key reference.
	cr, err := certreload.New(id.CertFile(), id.KeyFile())
	if err != nil {
		t.Fatal(err)
	}
	c, err := cr.Certificate()
	if err != nil || c.PrivateKey != key {
		t.Fatalf("client certificate from the key reference: %v", err)
	}
	// Filings are signed in the TPM and verify with the certificate's key.
	pub := key.Public().(*ecdsa.PublicKey)
	jws, err := filingsig.Sign([]byte(`{"ma_ho_so":"X"}`), id.PrivateKey(), filingsig.KeyID(pub))
	if err != nil {
		t.Fatal(err)
	}
	if err := filingsig.Verify([]byte(`{"ma_ho_so":"X"}`), jws, pub); err != nil {
		t.Errorf("a filing signed in the TPM does not verify: %v", err)
	}
	// Without a TPM and without a key the state is not provisioned.
	if _, err := Load(t.TempDir()); !errors.Is(err, ErrNotProvisioned) {
		t.Errorf("empty state: %v", err)
	}
}
