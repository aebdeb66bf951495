// Package identity owns the kiosk's device identity: the ECDSA P-256 device key
// generated on the kiosk (it never leaves it), the certificate chain the
// provincial backend's EST server issued for that key, and the CA certificate
// the kiosk pinned when it was provisioned. Everything lives under
// <state dir>/identity, a 0700 directory; the key file is 0600 and is never
// overwritten once it exists, so re-provisioning a kiosk keeps its key.
// Certificates are replaced atomically (temporary file, fsync, rename), so a
// power cut during renewal leaves the old or the new certificate, never half
// of one.
package identity

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vnkiosk/kiosk/internal/atomicfile"
	"github.com/vnkiosk/kiosk/provisioning/tpmkey"
)

// Names of the files under <state dir>/identity.
const (
	DirName = "identity"
	KeyName = "device-key.pem"
	// TPMKeyName, instead of KeyName, says the device key lives in a TPM: it
	// holds the key reference ("tpm:/dev/tpmrm0").
	TPMKeyName = "device-key.tpm"
	CertName   = "device-cert.pem"
	CAName     = "ca.pem"
)

// ErrNotProvisioned means the state directory holds no complete identity yet:
// run `kioskctl provision`.
var ErrNotProvisioned = errors.New("identity: this kiosk is not provisioned (run kioskctl provision)")

// tpmDevice is the TPM 2.0 resource manager; a variable so tests can point it
// elsewhere.
var tpmDevice = "/dev/tpmrm0"

// Identity is a loaded device identity.
type Identity struct {
	dir    string
	key    crypto.Signer       // *ecdsa.PrivateKey from the key file, or *tpmkey.Key
	keyRef string              // the key file's path, or "tpm:PATH"
	chain  []*x509.Certificate // leaf first
	ca     []*x509.Certificate
}

// Dir is <stateDir>/identity.
func Dir(stateDir string) string { return filepath.Join(stateDir, DirName) }

// EnsureKey returns the device key, creating it first if the state directory
// has none: in the TPM 2.0 when the machine has one, else in a 0600 file. An
// existing key is never replaced: the key is what the backend knows the kiosk
// by across renewals.
func EnsureKey(stateDir string) (crypto.Signer, error) {
	dir := Dir(stateDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("identity: create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	key, _, err := loadKey(dir)
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if _, err := os.Stat(tpmDevice); err == nil {
		// The TPM derives the key; only the reference to it is written down.
		ref := tpmkey.RefPrefix + tpmDevice
		k, err := tpmkey.FromRef(ref)
		if err != nil {
			return nil, fmt.Errorf("identity: device key in the TPM: %w", err)
		}
		if err := writeAtomic(filepath.Join(dir, TPMKeyName), []byte(ref+"\n"), 0o600); err != nil {
			return nil, err
		}
		return k, nil
	}
	path := filepath.Join(dir, KeyName)
	fileKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity: generate device key: %w", err)
	}
	der, err := x509.MarshalECPrivateKey(fileKey)
	if err != nil {
		return nil, fmt.Errorf("identity: encode device key: %w", err)
	}
	// O_EXCL: if another process created the key meanwhile, keep theirs.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		theirs, err := readKey(path)
		if err != nil {
			return nil, err
		}
		return theirs, nil
	}
	if err != nil {
		return nil, fmt.Errorf("identity: create device key: %w", err)
	}
	_, werr := f.Write(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return nil, fmt.Errorf("identity: write device key: %w", werr)
	}
	// The key file's name must survive a power cut too.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return fileKey, nil
}

// loadKey returns the device key of an identity directory and its reference
// (the key file's path, or "tpm:PATH"); an error wrapping fs.ErrNotExist when
// there is none.
func loadKey(dir string) (crypto.Signer, string, error) {
	if b, err := os.ReadFile(filepath.Join(dir, TPMKeyName)); err == nil {
		ref := strings.TrimSpace(string(b))
		k, err := tpmkey.FromRef(ref)
		if err != nil {
			return nil, "", fmt.Errorf("identity: device key in the TPM: %w", err)
		}
		return k, ref, nil
	}
	path := filepath.Join(dir, KeyName)
	k, err := readKey(path)
	if err != nil {
		return nil, "", err
	}
	return k, path, nil
}

func readKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("identity: device key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("identity: device key %s is not PEM", path)
	}
	var key *ecdsa.PrivateKey
	switch blk.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(blk.Bytes)
	case "PRIVATE KEY":
		var k any
		if k, err = x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
			var ok bool
			if key, ok = k.(*ecdsa.PrivateKey); !ok {
				err = errors.New("not an ECDSA key")
			}
		}
	default:
		err = fmt.Errorf("unexpected PEM block %q", blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("identity: device key %s: %w", path, err)
	}
	if key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("identity: device key %s is not P-256", path)
	}
	return key, nil
}

// Store writes the issued chain (leaf first) and the pinned CA certificates
// beside the device key, each atomically. The leaf must certify the device
// key: a certificate for another key would lock the kiosk out.
func Store(stateDir string, chain, ca []*x509.Certificate) error {
	if len(chain) == 0 || len(ca) == 0 {
		return errors.New("identity: store: empty certificate chain or CA")
	}
	key, _, err := loadKey(Dir(stateDir))
	if err != nil {
		return err
	}
	if !samePublic(key, chain[0]) {
		return errors.New("identity: the issued certificate is not for this kiosk's device key")
	}
	if err := writeAtomic(filepath.Join(Dir(stateDir), CAName), encodeCerts(ca), 0o644); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(Dir(stateDir), CertName), encodeCerts(chain), 0o644)
}

func encodeCerts(certs []*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	if err := atomicfile.Write(path, data, mode); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	return nil
}

// ParseCertificates reads every CERTIFICATE block of PEM data.
func ParseCertificates(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no certificate")
	}
	return out, nil
}

// Load reads the identity of stateDir. It returns ErrNotProvisioned when the
// key or the certificate is missing, and an error when they do not belong
// together.
func Load(stateDir string) (*Identity, error) {
	dir := Dir(stateDir)
	for _, n := range []string{CertName, CAName} {
		if _, err := os.Stat(filepath.Join(dir, n)); errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNotProvisioned
		}
	}
	key, ref, err := loadKey(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotProvisioned
	}
	if err != nil {
		return nil, err
	}
	id := &Identity{dir: dir, key: key, keyRef: ref}
	b, err := os.ReadFile(filepath.Join(dir, CertName))
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	if id.chain, err = ParseCertificates(b); err != nil {
		return nil, fmt.Errorf("identity: %s: %w", CertName, err)
	}
	if b, err = os.ReadFile(filepath.Join(dir, CAName)); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	if id.ca, err = ParseCertificates(b); err != nil {
		return nil, fmt.Errorf("identity: %s: %w", CAName, err)
	}
	if !samePublic(key, id.chain[0]) {
		return nil, errors.New("identity: the device certificate does not match the device key")
	}
	return id, nil
}

// Certificate is the kiosk's own (leaf) certificate.
func (id *Identity) Certificate() *x509.Certificate { return id.chain[0] }

// Chain is the issued chain, leaf first.
func (id *Identity) Chain() []*x509.Certificate { return id.chain }

// CACertificates are the pinned CA certificates.
func (id *Identity) CACertificates() []*x509.Certificate { return id.ca }

// PrivateKey is the device key, for TLS and for signing filings: an
// *ecdsa.PrivateKey, or a *tpmkey.Key that never leaves the TPM.
func (id *Identity) PrivateKey() crypto.Signer { return id.key }

// samePublic reports whether cert certifies key.
func samePublic(key crypto.Signer, cert *x509.Certificate) bool {
	pub, ok := key.Public().(*ecdsa.PublicKey)
	return ok && pub.Equal(cert.PublicKey)
}

// TLSCertificate is the client certificate for mutual TLS with the backend.
func (id *Identity) TLSCertificate() tls.Certificate {
	c := tls.Certificate{PrivateKey: id.key, Leaf: id.chain[0]}
	for _, x := range id.chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c
}

// CAPool holds the pinned CA certificates, to verify the backend with.
func (id *Identity) CAPool() *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range id.ca {
		p.AddCert(c)
	}
	return p
}

// NotBefore and NotAfter bound the certificate's validity.
func (id *Identity) NotBefore() time.Time { return id.chain[0].NotBefore }

// NotAfter is when the certificate expires.
func (id *Identity) NotAfter() time.Time { return id.chain[0].NotAfter }

// KioskID is the certificate's common name, which the EST server copied from
// the kiosk's request.
func (id *Identity) KioskID() string { return id.chain[0].Subject.CommonName }

// Site is the site code the kiosk was provisioned for: the certificate's
// organizational unit ("" when it has none).
func (id *Identity) Site() string {
	if ou := id.chain[0].Subject.OrganizationalUnit; len(ou) > 0 {
		return ou[0]
	}
	return ""
}

// CertFile, KeyFile and CAFile are the identity's files, for clients that
// load PEM files themselves (kioskd's backend client).
func (id *Identity) CertFile() string { return filepath.Join(id.dir, CertName) }

// KeyFile is the device key's file, or "tpm:PATH" for a key in a TPM (which
// the backend and insurance clients resolve through internal/certreload).
func (id *Identity) KeyFile() string { return id.keyRef }

// CAFile is the pinned CA's file.
func (id *Identity) CAFile() string { return filepath.Join(id.dir, CAName) }

// Dir is the identity directory.
func (id *Identity) Dir() string { return id.dir }

// Fingerprint is the SHA-256 of a certificate's DER, in lower-case hex.
func Fingerprint(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

// KeyStorage says where the device key is kept.
func (id *Identity) KeyStorage() string {
	if tpmkey.IsRef(id.keyRef) {
		return "TPM 2.0 (" + strings.TrimPrefix(id.keyRef, tpmkey.RefPrefix) + ")"
	}
	return "0600 file"
}

// Status is a one-line summary without personal data: kiosk id, expiry and
// where the key is kept.
func (id *Identity) Status() string {
	return fmt.Sprintf("kiosk %s, certificate valid until %s, key in a %s", id.KioskID(), id.NotAfter().UTC().Format(time.RFC3339), id.KeyStorage())
}
