package passiveauth

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// CRL is a certificate revocation list of a CSCA (ICAO 9303 Part 12 CRL profile).
type CRL struct {
	RawIssuer      []byte
	AuthorityKeyID []byte
	ThisUpdate     time.Time
	NextUpdate     time.Time // zero if absent
	revoked        []*big.Int
	rawTBS         []byte
	sigAlg         pkix.AlgorithmIdentifier
	sig            []byte
}

type certificateListASN1 struct {
	TBS    asn1.RawValue
	SigAlg pkix.AlgorithmIdentifier
	Sig    asn1.BitString
}

// ParseCRL parses one DER CRL. crypto/x509 decodes the content; the signature
// algorithm is read here because its RSA-PSS parameters matter for verification
// and crypto/x509 keeps only a summary of them.
func ParseCRL(der []byte) (*CRL, error) {
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("passiveauth: parse CRL: %w", err)
	}
	var outer certificateListASN1
	if err := unmarshalWhole(der, &outer, "CRL"); err != nil {
		return nil, fmt.Errorf("passiveauth: parse CRL: %w", err)
	}
	if outer.Sig.BitLength%8 != 0 {
		return nil, errors.New("passiveauth: parse CRL: signature is not a whole number of bytes")
	}
	c := &CRL{
		RawIssuer:      rl.RawIssuer,
		AuthorityKeyID: rl.AuthorityKeyId,
		ThisUpdate:     rl.ThisUpdate,
		NextUpdate:     rl.NextUpdate,
		rawTBS:         rl.RawTBSRevocationList,
		sigAlg:         outer.SigAlg,
		sig:            outer.Sig.Bytes,
	}
	for _, e := range rl.RevokedCertificateEntries {
		c.revoked = append(c.revoked, e.SerialNumber)
	}
	return c, nil
}

// revokes reports whether the CRL lists serial.
func (c *CRL) revokes(serial *big.Int) bool {
	return slices.ContainsFunc(c.revoked, func(s *big.Int) bool { return s.Cmp(serial) == 0 })
}

// TrustStore holds the CSCA certificates a kiosk trusts and the CRLs it knows.
// Vietnam's CSCA is not in the public master lists, so the store comes from
// provisioning.
type TrustStore struct {
	cscas []*Certificate
	crls  []*CRL
}

// NewTrustStore returns a store of the given CSCA certificates and CRLs.
func NewTrustStore(cscas []*Certificate, crls []*CRL) *TrustStore {
	return &TrustStore{cscas: slices.Clone(cscas), crls: slices.Clone(crls)}
}

// CSCAs returns the trusted certificates.
func (ts *TrustStore) CSCAs() []*Certificate {
	if ts == nil {
		return nil
	}
	return slices.Clone(ts.cscas)
}

// LoadTrustStore reads every *.pem, *.crt, *.cer and *.der file of dir as
// certificates and every *.crl file as CRLs, each PEM or DER; a PEM file may hold
// several blocks, and X509 CRL blocks are accepted in any PEM file. PEM blocks of
// other types (private keys) are ignored so that a test PKI directory can be used
// as is; a file that fails to parse is an error, because a trust store that
// silently lost a CSCA would turn every card from that issuer into unknown_csca.
// Certificates that are not CAs may be present: they never anchor a chain.
func LoadTrustStore(dir string) (*TrustStore, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("passiveauth: load trust store: %w", err)
	}
	ts := &TrustStore{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		ext := strings.ToLower(filepath.Ext(e.Name()))
		isCRL := ext == ".crl"
		if !isCRL && ext != ".pem" && ext != ".crt" && ext != ".cer" && ext != ".der" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("passiveauth: load trust store: %w", err)
		}
		if err := ts.add(b, isCRL); err != nil {
			return nil, fmt.Errorf("passiveauth: load trust store: %s: %w", e.Name(), err)
		}
	}
	return ts, nil
}

func (ts *TrustStore) add(b []byte, isCRL bool) error {
	if !bytes.Contains(b, []byte("-----BEGIN")) {
		return ts.addDER(b, isCRL)
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil
		}
		switch blk.Type {
		case "CERTIFICATE":
			if err := ts.addDER(blk.Bytes, false); err != nil {
				return err
			}
		case "X509 CRL":
			if err := ts.addDER(blk.Bytes, true); err != nil {
				return err
			}
		}
	}
}

func (ts *TrustStore) addDER(der []byte, isCRL bool) error {
	if isCRL {
		c, err := ParseCRL(der)
		if err != nil {
			return err
		}
		ts.crls = append(ts.crls, c)
		return nil
	}
	c, err := ParseCertificate(der)
	if err != nil {
		return err
	}
	ts.cscas = append(ts.cscas, c)
	return nil
}
