package tpmkey

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/provisioning/tpmkey/tpmkeytest"
)

func TestPublicIsP256(t *testing.T) {
	t.Parallel()
	tpmkeytest.Need(t)
	key, _ := openSWTPM(t, t.TempDir())
	pub, ok := key.Public().(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("Public() is %T, want *ecdsa.PublicKey", key.Public())
	}
	if pub.Curve != elliptic.P256() {
		t.Fatalf("curve is %s, want P-256", pub.Curve.Params().Name)
	}
	if b, err := pub.Bytes(); err != nil {
		t.Fatalf("public key: %v", err)
	} else if _, err := ecdh.P256().NewPublicKey(b); err != nil {
		t.Fatal("public point is not on P-256")
	}
}

func TestSignVerifies(t *testing.T) {
	t.Parallel()
	tpmkeytest.Need(t)
	key, _ := openSWTPM(t, t.TempDir())
	pub := key.Public().(*ecdsa.PublicKey)
	msg := []byte("hồ sơ thử nghiệm")
	digest := sha256.Sum256(msg)
	sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		t.Fatal("signature does not verify with ecdsa.VerifyASN1")
	}
	other := sha256.Sum256(append(msg, '!'))
	if ecdsa.VerifyASN1(pub, other[:], sig) {
		t.Fatal("signature verifies for a different digest")
	}
}

// Concurrent TLS handshakes sign at once; the TPM connection must serialise them.
func TestSignConcurrent(t *testing.T) {
	t.Parallel()
	tpmkeytest.Need(t)
	key, _ := openSWTPM(t, t.TempDir())
	pub := key.Public().(*ecdsa.PublicKey)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			digest := sha256.Sum256([]byte{byte(i)})
			sig, err := key.Sign(nil, digest[:], crypto.SHA256)
			if err != nil {
				errs <- err
				return
			}
			if !ecdsa.VerifyASN1(pub, digest[:], sig) {
				errs <- errors.New("concurrent signature does not verify")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestSignRejects(t *testing.T) {
	t.Parallel()
	tpmkeytest.Need(t)
	key, stop := openSWTPM(t, t.TempDir())
	d256 := sha256.Sum256([]byte("x"))
	d384 := sha512.Sum384([]byte("x"))
	tests := []struct {
		name   string
		digest []byte
		opts   crypto.SignerOpts
	}{
		{"SHA-384 hash", d384[:], crypto.SHA384},
		{"SHA-384 digest labelled SHA-256", d384[:], crypto.SHA256},
		{"short digest", d256[:16], crypto.SHA256},
		{"unhashed message", []byte("x"), crypto.Hash(0)},
	}
	for _, tc := range tests {
		if sig, err := key.Sign(rand.Reader, tc.digest, tc.opts); err == nil {
			t.Errorf("%s: Sign returned %x, want an error", tc.name, sig)
		}
	}
	stop()
	if _, err := key.Sign(rand.Reader, d256[:], crypto.SHA256); !errors.Is(err, ErrClosed) {
		t.Errorf("Sign after Close: err = %v, want ErrClosed", err)
	}
	if err := key.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// The kiosk stores no key blob: it relies on the TPM deriving the same primary
// key from the same owner seed after a restart, and a different key on a
// different TPM (or after the TPM is cleared).
func TestSameTPMSameKey(t *testing.T) {
	t.Parallel()
	tpmkeytest.Need(t)
	state := t.TempDir()
	first, stop := openSWTPM(t, state)
	firstPub := first.Public().(*ecdsa.PublicKey)
	stop() // swtpm holds a lock on its state directory

	second, _ := openSWTPM(t, state)
	if !firstPub.Equal(second.Public()) {
		t.Fatal("second swtpm run on the same state gave a different key")
	}
	// A signature from the second run verifies with the first run's key.
	digest := sha256.Sum256([]byte("renewal"))
	sig, err := second.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if !ecdsa.VerifyASN1(firstPub, digest[:], sig) {
		t.Fatal("signature from the second run does not verify with the first run's key")
	}

	other, _ := openSWTPM(t, t.TempDir())
	if firstPub.Equal(other.Public()) {
		t.Fatal("a different TPM gave the same key")
	}
}

func TestCSR(t *testing.T) {
	t.Parallel()
	tpmkeytest.Need(t)
	key, _ := openSWTPM(t, t.TempDir())
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "kiosk-test-0001"},
	}, key)
	if err != nil {
		t.Fatalf("CreateCertificateRequest: %v", err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatalf("ParseCertificateRequest: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Fatalf("CSR signature: %v", err)
	}
	if csr.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("CSR signature algorithm %v, want ECDSAWithSHA256", csr.SignatureAlgorithm)
	}
	if !key.Public().(*ecdsa.PublicKey).Equal(csr.PublicKey) {
		t.Error("CSR carries a different public key")
	}
}

// TestTLSClientAuth runs real handshakes in which the TPM signs the client's
// CertificateVerify, for both TLS versions the kiosk may meet.
func TestTLSClientAuth(t *testing.T) {
	t.Parallel()
	tpmkeytest.Need(t)
	key, _ := openSWTPM(t, t.TempDir())
	cert := selfSigned(t, key)

	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if len(r.TLS.PeerCertificates) == 0 || !key.Public().(*ecdsa.PublicKey).Equal(r.TLS.PeerCertificates[0].PublicKey) {
					http.Error(w, "wrong client certificate", http.StatusForbidden)
					return
				}
				io.WriteString(w, "ok")
			}))
			pool := x509.NewCertPool()
			pool.AddCert(cert)
			srv.TLS = &tls.Config{
				ClientAuth: tls.RequireAndVerifyClientCert,
				ClientCAs:  pool,
				MinVersion: version,
				MaxVersion: version,
			}
			srv.StartTLS()
			defer srv.Close()

			client := srv.Client()
			tr := client.Transport.(*http.Transport)
			tr.TLSClientConfig.Certificates = []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}}
			resp, err := client.Get(srv.URL)
			if err != nil {
				t.Fatalf("GET with TPM client certificate: %v", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || string(body) != "ok" {
				t.Fatalf("server answered %d %q", resp.StatusCode, body)
			}
			if resp.TLS.Version != version {
				t.Errorf("negotiated %s", tls.VersionName(resp.TLS.Version))
			}
		})
	}
}

// selfSigned makes a client certificate for key, signed by key itself.
func selfSigned(t *testing.T, key crypto.Signer) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kiosk-test-0001"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("CreateCertificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("ParseCertificate: %v", err)
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		t.Fatalf("self-signed certificate does not verify: %v", err)
	}
	return cert
}

// TestOpenDevice goes through tpm2.OpenTPM, which checks that the path is a
// TPM 2.0 before the key is derived. swtpm's Unix socket stands in for
// /dev/tpmrm0: go-tpm opens sockets and character devices alike.
func TestOpenDevice(t *testing.T) {
	t.Parallel()
	tpmkeytest.Need(t)
	state := t.TempDir()
	sw := tpmkeytest.Start(t, state)
	t.Cleanup(func() { sw.Stop(t) })

	key, err := OpenDevice(sw.Sock)
	if err != nil {
		t.Fatalf("OpenDevice(swtpm socket): %v", err)
	}
	digest := sha256.Sum256([]byte("device"))
	sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	pub := key.Public().(*ecdsa.PublicKey)
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		t.Fatal("signature does not verify")
	}
	// go-tpm v0.3.2's socket wrapper reports an error when closed between
	// commands (it connects per command); the handle flush before it must work.
	if err := key.Close(); err != nil && !strings.Contains(err.Error(), "close TPM") {
		t.Fatalf("Close: %v", err)
	}
	sw.Stop(t)

	// The same TPM through Open gives the same key as through OpenDevice.
	again, _ := openSWTPM(t, state)
	if !pub.Equal(again.Public()) {
		t.Fatal("OpenDevice and Open derived different keys from the same TPM")
	}
}

func TestOpenDeviceErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	regular := filepath.Join(dir, "not-a-tpm")
	if err := os.WriteFile(regular, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "missing"), regular, dir} {
		if key, err := OpenDevice(path); err == nil {
			key.Close()
			t.Errorf("OpenDevice(%s) succeeded, want an error", path)
		}
	}
}
