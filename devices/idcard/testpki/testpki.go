// Package testpki generates a throw-away eMRTD PKI — a CSCA, a Document Signer and
// their CRL — and signs EF.SOD files with it, for the virtual card and for tests of
// Passive Authentication (ICAO 9303 Part 12 certificate profiles, Part 10
// EF.SOD). It is NOT FOR PRODUCTION: keys are written unencrypted and certificates
// carry "NOT FOR PRODUCTION" in their names. Certificates and CRLs are built here
// with encoding/asn1 because crypto/x509 refuses brainpool keys, which real
// issuers (and Vietnam's PACE domain) use; the same builder serves every flavour so
// that all of them exercise one code path. It also makes the faulty credentials
// tests need: an expired Document Signer, an impostor CSCA of the same name with
// its own Document Signer and CRLs, and a CRL revoking the Document Signer.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard/eccurve"
)

// Flavour selects the key types and signature scheme of a PKI.
type Flavour string

// Flavours.
const (
	RSA            Flavour = "rsa"             // RSA 2048, sha256WithRSAEncryption
	RSAPSS         Flavour = "rsa-pss"         // RSA 2048, RSASSA-PSS with SHA-256, MGF1-SHA-256, salt 32
	ECDSABrainpool Flavour = "ecdsa-brainpool" // brainpoolP256r1, ecdsa-with-SHA256
)

// Credential is a certificate with its private key.
type Credential struct {
	Certificate []byte        // DER
	Key         crypto.Signer // *rsa.PrivateKey or *ecdsa.PrivateKey
	PSS         bool          // an RSA key signs with RSASSA-PSS rather than PKCS#1 v1.5
}

// PKI is a CSCA, a Document Signer it issued, and a CRL of the CSCA.
type PKI struct {
	Flavour Flavour
	CSCA    Credential
	DS      Credential
	CRL     []byte // DER, signed by the CSCA; revokes nothing unless made by RevocationList
}

// File names written by Write and read by Load. csca.pem is the trust anchor to
// give a reader (its trust store directory takes such files).
const (
	FileCSCA    = "csca.pem"
	FileCSCAKey = "csca-key.pem"
	FileDS      = "ds.pem"
	FileDSKey   = "ds-key.pem"
	FileCRL     = "crl.pem"
)

// Validity of generated certificates.
const (
	cscaLifetime = 20 * 365 * 24 * time.Hour
	dsLifetime   = 10 * 365 * 24 * time.Hour
	backdate     = 24 * time.Hour // tolerate clock skew between generator and reader
)

// New generates a PKI in memory.
func New(f Flavour) (*PKI, error) {
	p := &PKI{Flavour: f}
	cscaKey, err := newKey(f)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	p.CSCA, err = selfSigned(f, cscaKey, cscaName(f), now.Add(-backdate), now.Add(cscaLifetime))
	if err != nil {
		return nil, err
	}
	dsKey, err := newKey(f)
	if err != nil {
		return nil, err
	}
	if p.DS, err = p.IssueDS(dsKey, now.Add(-backdate), now.Add(dsLifetime)); err != nil {
		return nil, err
	}
	if p.CRL, err = p.RevocationList(); err != nil {
		return nil, err
	}
	return p, nil
}

// Generate creates a PKI and writes it to dir (created if missing).
func Generate(dir string, f Flavour) (*PKI, error) {
	p, err := New(f)
	if err != nil {
		return nil, err
	}
	if err := p.Write(dir); err != nil {
		return nil, err
	}
	return p, nil
}

// Write stores the PKI in dir as PEM: certificates as CERTIFICATE, keys as
// PKCS#8 PRIVATE KEY (for brainpool keys in the same RFC 5208/5915 layout that
// crypto/x509 cannot produce, written and read by this package), the CRL as X509
// CRL. Private keys get mode 0600.
func (p *PKI) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("testpki: %w", err)
	}
	cscaKey, err := marshalPKCS8(p.CSCA.Key)
	if err != nil {
		return err
	}
	dsKey, err := marshalPKCS8(p.DS.Key)
	if err != nil {
		return err
	}
	files := []struct {
		name, typ string
		der       []byte
		mode      os.FileMode
	}{
		{FileCSCA, "CERTIFICATE", p.CSCA.Certificate, 0o644},
		{FileCSCAKey, "PRIVATE KEY", cscaKey, 0o600},
		{FileDS, "CERTIFICATE", p.DS.Certificate, 0o644},
		{FileDSKey, "PRIVATE KEY", dsKey, 0o600},
		{FileCRL, "X509 CRL", p.CRL, 0o644},
	}
	for _, f := range files {
		if f.der == nil {
			continue
		}
		b := pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})
		if err := os.WriteFile(filepath.Join(dir, f.name), b, f.mode); err != nil {
			return fmt.Errorf("testpki: %w", err)
		}
	}
	return nil
}

// Load reads a PKI written by Write. crl.pem is optional.
func Load(dir string) (*PKI, error) {
	read := func(name, typ string, optional bool) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if optional && errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("testpki: %w", err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != typ {
			return nil, fmt.Errorf("testpki: %s holds no %s block", name, typ)
		}
		return blk.Bytes, nil
	}
	var ders [5][]byte
	for i, f := range []struct{ name, typ string }{
		{FileCSCA, "CERTIFICATE"}, {FileCSCAKey, "PRIVATE KEY"}, {FileDS, "CERTIFICATE"},
		{FileDSKey, "PRIVATE KEY"}, {FileCRL, "X509 CRL"},
	} {
		var err error
		if ders[i], err = read(f.name, f.typ, f.name == FileCRL); err != nil {
			return nil, err
		}
	}
	cscaKey, err := parsePKCS8(ders[1])
	if err != nil {
		return nil, err
	}
	dsKey, err := parsePKCS8(ders[3])
	if err != nil {
		return nil, err
	}
	p := &PKI{CSCA: Credential{Certificate: ders[0], Key: cscaKey}, DS: Credential{Certificate: ders[2], Key: dsKey}, CRL: ders[4]}
	info, err := parseCert(p.CSCA.Certificate)
	if err != nil {
		return nil, err
	}
	switch cscaKey.(type) {
	case *ecdsa.PrivateKey:
		p.Flavour = ECDSABrainpool
	case *rsa.PrivateKey:
		p.Flavour = RSA
		if info.sigAlg.Algorithm.Equal(oidRSASSAPSS) {
			p.Flavour = RSAPSS
		}
	}
	p.CSCA.PSS, p.DS.PSS = p.Flavour == RSAPSS, p.Flavour == RSAPSS
	return p, nil
}

func cscaName(f Flavour) string { return fmt.Sprintf("Test CSCA %s NOT FOR PRODUCTION", f) }
func dsName(f Flavour) string   { return fmt.Sprintf("Test Document Signer %s NOT FOR PRODUCTION", f) }

// newKey generates a key of the flavour.
func newKey(f Flavour) (crypto.Signer, error) {
	switch f {
	case RSA, RSAPSS:
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("testpki: %w", err)
		}
		return k, nil
	case ECDSABrainpool:
		c, err := eccurve.ByParameterID(13) // brainpoolP256r1
		if err != nil {
			return nil, err
		}
		k, err := ecdsa.GenerateKey(c.Curve, rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("testpki: %w", err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("testpki: unknown flavour %q", f)
}

// IssueDS issues a Document Signer certificate for key, signed by the CSCA, valid
// from notBefore to notAfter.
func (p *PKI) IssueDS(key crypto.Signer, notBefore, notAfter time.Time) (Credential, error) {
	return issue(p.Flavour, p.CSCA, key, dsName(p.Flavour), notBefore, notAfter, false)
}

// ExpiredDS returns the Document Signer's key under a certificate that expired a
// year before now.
func (p *PKI) ExpiredDS(now time.Time) (Credential, error) {
	return p.IssueDS(p.DS.Key, now.Add(-2*365*24*time.Hour), now.Add(-365*24*time.Hour))
}

// Impostor returns a PKI whose CSCA has the same name as p's but a fresh key, and
// whose Document Signer is p's Document Signer key under a certificate of that
// impostor CSCA. A reader trusting p's CSCA finds a CSCA of the right name, but the
// impostor's certificates and CRLs do not verify under it.
func (p *PKI) Impostor() (*PKI, error) {
	key, err := newKey(p.Flavour)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	imp := &PKI{Flavour: p.Flavour}
	if imp.CSCA, err = selfSigned(p.Flavour, key, cscaName(p.Flavour), now.Add(-backdate), now.Add(cscaLifetime)); err != nil {
		return nil, err
	}
	if imp.DS, err = imp.IssueDS(p.DS.Key, now.Add(-backdate), now.Add(dsLifetime)); err != nil {
		return nil, err
	}
	if imp.CRL, err = imp.RevocationList(); err != nil {
		return nil, err
	}
	return imp, nil
}

// RevokeDS returns a CRL of the CSCA that revokes the Document Signer.
func (p *PKI) RevokeDS() ([]byte, error) {
	info, err := parseCert(p.DS.Certificate)
	if err != nil {
		return nil, err
	}
	return p.RevocationList(info.serial)
}

// SignSOD signs an EF.SOD over dataGroups with the PKI's Document Signer.
func (p *PKI) SignSOD(dataGroups map[int][]byte, hash crypto.Hash, opts ...SODOption) ([]byte, error) {
	return SignSOD(dataGroups, hash, p.DS, opts...)
}

func randomSerial() (*big.Int, error) {
	// 63 random bits with the top bit clear: positive and at most 8 bytes, as
	// RFC 5280 §4.1.2.2 limits serial numbers to 20 octets.
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("testpki: %w", err)
	}
	b[0] &= 0x7F
	b[0] |= 0x40
	return new(big.Int).SetBytes(b), nil
}
