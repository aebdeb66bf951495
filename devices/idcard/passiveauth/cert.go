package passiveauth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard/eccurve"
)

// Certificate is an X.509 certificate of the eMRTD PKI (ICAO 9303 Part 12 profiles):
// a CSCA or a Document Signer. This package parses certificates itself because
// crypto/x509 refuses keys on brainpool curves, which issuers use.
type Certificate struct {
	Raw          []byte   // the whole certificate, DER
	RawTBS       []byte   // TBSCertificate, the signed part
	SerialNumber *big.Int // as encoded; may be negative in non-conforming certificates
	RawIssuer    []byte   // issuer Name, DER
	RawSubject   []byte   // subject Name, DER
	NotBefore    time.Time
	NotAfter     time.Time
	PublicKey    crypto.PublicKey // *rsa.PublicKey or *ecdsa.PublicKey

	SubjectKeyID   []byte // subjectKeyIdentifier extension, nil if absent
	AuthorityKeyID []byte // keyIdentifier of authorityKeyIdentifier, nil if absent
	// IsCA is the basicConstraints cA flag; HasBasicConstraints says whether the
	// extension was present.
	IsCA, HasBasicConstraints bool
	// KeyUsage is the keyUsage extension in crypto/x509's bit order; 0 if absent.
	KeyUsage x509.KeyUsage
	// UnhandledCritical reports a critical extension this package does not
	// understand; RFC 5280 §4.2 forbids relying on such a certificate.
	UnhandledCritical bool

	sigAlg pkix.AlgorithmIdentifier
	sig    []byte
}

type certificateASN1 struct {
	TBS    asn1.RawValue
	SigAlg pkix.AlgorithmIdentifier
	Sig    asn1.BitString
}

type tbsCertificateASN1 struct {
	Version    int `asn1:"optional,explicit,default:0,tag:0"`
	Serial     *big.Int
	SigAlg     pkix.AlgorithmIdentifier
	Issuer     asn1.RawValue
	Validity   validityASN1
	Subject    asn1.RawValue
	SPKI       asn1.RawValue
	IssuerUID  asn1.BitString   `asn1:"optional,tag:1"`
	SubjectUID asn1.BitString   `asn1:"optional,tag:2"`
	Extensions []pkix.Extension `asn1:"optional,explicit,tag:3"`
}

type validityASN1 struct {
	NotBefore, NotAfter time.Time
}

type spkiASN1 struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

// Extension identifiers of RFC 5280 §4.2.1.
var (
	oidExtSubjectKeyID   = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidExtKeyUsage       = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtBasicConstr    = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidExtAuthorityKeyID = asn1.ObjectIdentifier{2, 5, 29, 35}
)

// ParseCertificate parses one DER certificate.
func ParseCertificate(der []byte) (*Certificate, error) {
	c, err := parseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("passiveauth: parse certificate: %w", err)
	}
	return c, nil
}

func parseCertificate(der []byte) (*Certificate, error) {
	var outer certificateASN1
	rest, err := asn1.Unmarshal(der, &outer)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, errors.New("trailing bytes after the certificate")
	}
	var tbs tbsCertificateASN1
	if rest, err := asn1.Unmarshal(outer.TBS.FullBytes, &tbs); err != nil {
		return nil, fmt.Errorf("TBSCertificate: %w", err)
	} else if len(rest) != 0 {
		return nil, errors.New("trailing bytes after TBSCertificate")
	}
	if tbs.Version != 2 && (tbs.Version != 0 || len(tbs.Extensions) != 0) {
		return nil, fmt.Errorf("certificate version %d", tbs.Version+1)
	}
	// RFC 5280 §4.1.1.2: the outer algorithm must equal the signed one, or an
	// attacker could swap it.
	if !algEqual(outer.SigAlg, tbs.SigAlg) {
		return nil, errors.New("signature algorithm differs from the one in TBSCertificate")
	}
	if outer.Sig.BitLength%8 != 0 {
		return nil, errors.New("signature is not a whole number of bytes")
	}
	pub, err := parsePublicKey(tbs.SPKI.FullBytes)
	if err != nil {
		return nil, err
	}
	c := &Certificate{
		Raw:          der[:len(der)-len(rest)],
		RawTBS:       outer.TBS.FullBytes,
		SerialNumber: tbs.Serial,
		RawIssuer:    tbs.Issuer.FullBytes,
		RawSubject:   tbs.Subject.FullBytes,
		NotBefore:    tbs.Validity.NotBefore,
		NotAfter:     tbs.Validity.NotAfter,
		PublicKey:    pub,
		sigAlg:       outer.SigAlg,
		sig:          outer.Sig.Bytes,
	}
	seen := map[string]bool{}
	for _, e := range tbs.Extensions {
		if seen[e.Id.String()] {
			return nil, fmt.Errorf("extension %s repeated", e.Id)
		}
		seen[e.Id.String()] = true
		if err := c.applyExtension(e); err != nil {
			return nil, fmt.Errorf("extension %s: %w", e.Id, err)
		}
	}
	return c, nil
}

func algEqual(a, b pkix.AlgorithmIdentifier) bool {
	return a.Algorithm.Equal(b.Algorithm) && bytes.Equal(a.Parameters.FullBytes, b.Parameters.FullBytes)
}

func (c *Certificate) applyExtension(e pkix.Extension) error {
	unmarshal := func(v any) error {
		rest, err := asn1.Unmarshal(e.Value, v)
		if err == nil && len(rest) != 0 {
			err = errors.New("trailing bytes")
		}
		return err
	}
	switch {
	case e.Id.Equal(oidExtSubjectKeyID):
		return unmarshal(&c.SubjectKeyID)
	case e.Id.Equal(oidExtAuthorityKeyID):
		var raw asn1.RawValue
		if err := unmarshal(&raw); err != nil {
			return err
		}
		if raw.Class != asn1.ClassUniversal || raw.Tag != asn1.TagSequence {
			return errors.New("authorityKeyIdentifier is not a SEQUENCE")
		}
		// Only keyIdentifier [0] matters; authorityCertIssuer and serial are
		// ignored.
		fields := raw.Bytes
		for len(fields) > 0 {
			var f asn1.RawValue
			var err error
			if fields, err = asn1.Unmarshal(fields, &f); err != nil {
				return err
			}
			if f.Class == asn1.ClassContextSpecific && f.Tag == 0 && !f.IsCompound {
				c.AuthorityKeyID = f.Bytes
			}
		}
	case e.Id.Equal(oidExtBasicConstr):
		var bc struct {
			IsCA       bool `asn1:"optional"`
			MaxPathLen int  `asn1:"optional,default:-1"`
		}
		if err := unmarshal(&bc); err != nil {
			return err
		}
		c.IsCA, c.HasBasicConstraints = bc.IsCA, true
	case e.Id.Equal(oidExtKeyUsage):
		var bits asn1.BitString
		if err := unmarshal(&bits); err != nil {
			return err
		}
		for i := range 9 {
			if bits.At(i) != 0 {
				c.KeyUsage |= 1 << i
			}
		}
	default:
		c.UnhandledCritical = c.UnhandledCritical || e.Critical
	}
	return nil
}

// parsePublicKey decodes a SubjectPublicKeyInfo with an RSA key (rsaEncryption or
// id-RSASSA-PSS) or an EC key on a curve eccurve knows, named or given by explicit
// parameters (ICAO 9303 Part 12 allows both).
func parsePublicKey(der []byte) (crypto.PublicKey, error) {
	var spki spkiASN1
	if rest, err := asn1.Unmarshal(der, &spki); err != nil || len(rest) != 0 {
		return nil, errors.New("SubjectPublicKeyInfo malformed")
	}
	if spki.PublicKey.BitLength%8 != 0 {
		return nil, errors.New("public key is not a whole number of bytes")
	}
	alg := spki.Algorithm.Algorithm
	switch {
	case alg.Equal(oidRSAEncryption), alg.Equal(oidRSASSAPSS):
		k, err := x509.ParsePKCS1PublicKey(spki.PublicKey.Bytes)
		if err != nil {
			return nil, fmt.Errorf("RSA public key: %w", err)
		}
		return k, nil
	case alg.Equal(oidECPublicKey):
		c, err := parseCurve(spki.Algorithm.Parameters)
		if err != nil {
			return nil, err
		}
		p, err := c.Unmarshal(spki.PublicKey.Bytes)
		if err != nil {
			return nil, fmt.Errorf("EC public key: %w", err)
		}
		return ecdsaPublicKey(c, p), nil
	}
	return nil, fmt.Errorf("unsupported public key algorithm %s", alg)
}

// ecParametersASN1 is SEC 1 ECParameters (explicit domain parameters).
type ecParametersASN1 struct {
	Version int
	FieldID struct {
		FieldType asn1.ObjectIdentifier
		Prime     *big.Int
	}
	Curve struct {
		A, B []byte
		Seed asn1.BitString `asn1:"optional"`
	}
	Base     []byte
	Order    *big.Int
	Cofactor *big.Int `asn1:"optional"`
}

// parseCurve returns the named curve that the EC key parameters designate. Explicit
// parameters are accepted when their field, order and base point are those of a
// curve eccurve knows; the key is then used on that named curve, never with
// caller-supplied arithmetic, so differing a or b coefficients could not weaken
// anything and are not compared (crypto/elliptic does not expose them for
// brainpool curves).
func parseCurve(params asn1.RawValue) (*eccurve.Curve, error) {
	var oid asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(params.FullBytes, &oid); err == nil && len(rest) == 0 {
		return eccurve.ByOID(oid)
	}
	var ep ecParametersASN1
	if rest, err := asn1.Unmarshal(params.FullBytes, &ep); err != nil || len(rest) != 0 {
		return nil, errors.New("EC parameters are neither a curve OID nor explicit parameters")
	}
	if !ep.FieldID.FieldType.Equal(oidPrimeField) || ep.FieldID.Prime == nil || ep.Order == nil {
		return nil, errors.New("explicit EC parameters are not over a prime field")
	}
	if ep.Cofactor != nil && ep.Cofactor.Cmp(big.NewInt(1)) != 0 {
		return nil, errors.New("explicit EC parameters with a cofactor other than 1")
	}
	cp := &elliptic.CurveParams{P: ep.FieldID.Prime, N: ep.Order, B: new(big.Int).SetBytes(ep.Curve.B),
		BitSize: ep.FieldID.Prime.BitLen()}
	n := (cp.BitSize + 7) / 8
	if len(ep.Base) != 1+2*n || ep.Base[0] != 4 {
		return nil, errors.New("explicit EC parameters: base point not uncompressed")
	}
	cp.Gx, cp.Gy = new(big.Int).SetBytes(ep.Base[1:1+n]), new(big.Int).SetBytes(ep.Base[1+n:])
	return eccurve.ByCurve(cp)
}

// ecdsaPublicKey builds the crypto/ecdsa key for a point already checked to be on
// the curve. Brainpool curves have no constructor in crypto/ecdsa
// (ParseUncompressedPublicKey knows only the NIST curves), so the fields are set
// directly.
func ecdsaPublicKey(c *eccurve.Curve, p eccurve.Point) *ecdsa.PublicKey {
	return &ecdsa.PublicKey{Curve: c.Curve, X: p.X, Y: p.Y}
}

// checkSignatureFrom verifies that issuer's key signed c.
func (c *Certificate) checkSignatureFrom(issuer *Certificate) error {
	s, err := parseScheme(c.sigAlg, 0)
	if err != nil {
		return err
	}
	return s.verify(issuer.PublicKey, c.RawTBS, c.sig)
}
