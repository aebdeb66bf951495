package securityinfo

import (
	"crypto/elliptic"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"github.com/vnkiosk/kiosk/devices/idcard/eccurve"
)

// errUnknownCurve marks a well-formed EC key on a curve eccurve does not have.
var errUnknownCurve = errors.New("curve not supported")

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type subjectPublicKeyInfo struct {
	Algorithm algorithmIdentifier
	PublicKey asn1.BitString
}

// ecParameters is SpecifiedECDomain of SEC 1 §C.2 / RFC 3279 §2.3.5, the explicit
// form that German-style eMRTD profiles put in DG14 and DG15.
type ecParameters struct {
	Version  int
	FieldID  fieldID
	Curve    curveCoefficients
	Base     []byte
	Order    *big.Int
	Cofactor *big.Int `asn1:"optional"`
}

type fieldID struct {
	FieldType asn1.ObjectIdentifier
	Prime     asn1.RawValue
}

type curveCoefficients struct {
	A, B []byte
	Seed asn1.BitString `asn1:"optional"`
}

// maxFieldBits bounds explicit parameters from the card before any arithmetic:
// the largest curve eMRTDs use is P-521.
const maxFieldBits = 521

// ParseECPublicKey decodes an EC SubjectPublicKeyInfo whose algorithm is
// id-ecPublicKey or id-PK-ECDH and whose parameters are a namedCurve OID or
// explicit ECParameters that describe a curve eccurve knows. The point is checked
// to lie on the curve.
func ParseECPublicKey(spki []byte) (*eccurve.Curve, eccurve.Point, error) {
	var k subjectPublicKeyInfo
	if err := unmarshalExact(spki, &k); err != nil {
		return nil, eccurve.Point{}, fmt.Errorf("securityinfo: SubjectPublicKeyInfo: %w", err)
	}
	alg := k.Algorithm.Algorithm
	if !alg.Equal(OIDECPublicKey) && !alg.Equal(OIDPKECDH) {
		return nil, eccurve.Point{}, fmt.Errorf("securityinfo: public key algorithm %s is not EC", alg)
	}
	c, err := parseECDomain(k.Algorithm.Parameters)
	if err != nil {
		return nil, eccurve.Point{}, fmt.Errorf("securityinfo: EC domain parameters: %w", err)
	}
	if k.PublicKey.BitLength%8 != 0 {
		return nil, eccurve.Point{}, errors.New("securityinfo: EC public key is not whole bytes")
	}
	p, err := c.Unmarshal(k.PublicKey.Bytes)
	if err != nil {
		return nil, eccurve.Point{}, fmt.Errorf("securityinfo: EC public key: %w", err)
	}
	return c, p, nil
}

func parseECDomain(params asn1.RawValue) (*eccurve.Curve, error) {
	switch {
	case params.Class == asn1.ClassUniversal && params.Tag == asn1.TagOID:
		var oid asn1.ObjectIdentifier
		if err := unmarshalExact(params.FullBytes, &oid); err != nil {
			return nil, err
		}
		c, err := eccurve.ByOID(oid)
		if err != nil {
			return nil, fmt.Errorf("named curve %s: %w", oid, errUnknownCurve)
		}
		return c, nil
	case params.Class == asn1.ClassUniversal && params.Tag == asn1.TagSequence:
		return parseExplicitDomain(params.FullBytes)
	case len(params.FullBytes) == 0:
		return nil, errors.New("absent")
	default:
		return nil, errors.New("neither a named curve nor explicit parameters")
	}
}

func parseExplicitDomain(der []byte) (*eccurve.Curve, error) {
	var e ecParameters
	if err := unmarshalExact(der, &e); err != nil {
		return nil, err
	}
	if e.Version != 1 {
		return nil, fmt.Errorf("ECParameters version %d", e.Version)
	}
	if !e.FieldID.FieldType.Equal(oidPrimeField) {
		return nil, fmt.Errorf("field type %s: %w", e.FieldID.FieldType, errUnknownCurve)
	}
	p := new(big.Int)
	if err := unmarshalExact(e.FieldID.Prime.FullBytes, &p); err != nil {
		return nil, fmt.Errorf("prime: %w", err)
	}
	if p.Sign() <= 0 || p.BitLen() > maxFieldBits {
		return nil, fmt.Errorf("prime of %d bits: %w", p.BitLen(), errUnknownCurve)
	}
	a, b := new(big.Int).SetBytes(e.Curve.A), new(big.Int).SetBytes(e.Curve.B)
	if a.Cmp(p) >= 0 || b.Cmp(p) >= 0 {
		return nil, errors.New("coefficient not reduced modulo the prime")
	}
	if e.Cofactor != nil && e.Cofactor.Cmp(big.NewInt(1)) != 0 {
		return nil, fmt.Errorf("cofactor %s: %w", e.Cofactor, errUnknownCurve)
	}
	gx, gy, err := decodeBase(e.Base, p, a, b)
	if err != nil {
		return nil, err
	}
	// ByCurve only reads the parameters; no generic arithmetic runs on them.
	c, err := eccurve.ByCurve(&elliptic.CurveParams{P: p, N: e.Order, Gx: gx, Gy: gy, BitSize: p.BitLen()})
	if err != nil {
		return nil, errUnknownCurve
	}
	// Field, order and base point match; a and b must too, or the key would
	// live on another curve through the same point.
	ka, kb := coefficients(c)
	if ka.Cmp(a) != 0 || kb.Cmp(b) != 0 {
		return nil, fmt.Errorf("coefficients differ from %s: %w", c.Name, errUnknownCurve)
	}
	return c, nil
}

// decodeBase decodes the explicit base point, uncompressed or compressed.
func decodeBase(enc []byte, p, a, b *big.Int) (x, y *big.Int, err error) {
	n := (p.BitLen() + 7) / 8
	switch {
	case len(enc) == 1+2*n && enc[0] == 4:
		return new(big.Int).SetBytes(enc[1 : 1+n]), new(big.Int).SetBytes(enc[1+n:]), nil
	case len(enc) == 1+n && (enc[0] == 2 || enc[0] == 3):
		// ModSqrt needs an odd prime; a hostile composite could make it spin.
		if p.Bit(0) == 0 || !p.ProbablyPrime(20) {
			return nil, nil, errors.New("field modulus is not prime")
		}
		x = new(big.Int).SetBytes(enc[1:])
		if x.Cmp(p) >= 0 {
			return nil, nil, errors.New("base point x not reduced")
		}
		rhs := new(big.Int).Exp(x, big.NewInt(3), p)
		rhs.Add(rhs, new(big.Int).Mul(a, x))
		rhs.Add(rhs, b)
		rhs.Mod(rhs, p)
		y = new(big.Int).ModSqrt(rhs, p)
		if y == nil {
			return nil, nil, errors.New("compressed base point not on the curve")
		}
		if y.Bit(0) != uint(enc[0]&1) {
			y.Sub(p, y)
		}
		return x, y, nil
	default:
		return nil, nil, errors.New("malformed base point")
	}
}

// coefficients returns a and b of y² = x³ + ax + b for c. crypto/elliptic does not
// expose a (and reports no b for the brainpool curves), so they are solved from
// two points of the curve, G and 2G, whose x-coordinates differ:
// a = (d1 - d2)/(x1 - x2), b = d1 - a·x1 with d = y² - x³.
func coefficients(c *eccurve.Curve) (a, b *big.Int) {
	p := c.Params().P
	g := c.Generator()
	g2 := c.Add(g, g)
	d := func(q eccurve.Point) *big.Int {
		y2 := new(big.Int).Mul(q.Y, q.Y)
		x3 := new(big.Int).Exp(q.X, big.NewInt(3), p)
		return y2.Sub(y2, x3).Mod(y2, p)
	}
	d1, d2 := d(g), d(g2)
	num := new(big.Int).Sub(d1, d2)
	den := new(big.Int).Sub(g.X, g2.X)
	den.Mod(den, p).ModInverse(den, p)
	a = num.Mul(num, den).Mod(num, p)
	b = new(big.Int).Mul(a, g.X)
	b.Sub(d1, b).Mod(b, p)
	return a, b
}

// EncodeECPublicKey encodes an EC public key as a SubjectPublicKeyInfo with
// id-ecPublicKey and the namedCurve OID (RFC 5480).
func EncodeECPublicKey(c *eccurve.Curve, p eccurve.Point) ([]byte, error) {
	if !c.IsOnCurve(p) {
		return nil, fmt.Errorf("securityinfo: public key not on %s", c.Name)
	}
	params, err := asn1.Marshal(c.OID)
	if err != nil {
		return nil, fmt.Errorf("securityinfo: curve OID: %w", err)
	}
	return marshalSPKI(params, c.Marshal(p))
}

// EncodeECPublicKeyExplicit encodes an EC public key as a SubjectPublicKeyInfo with
// id-ecPublicKey and explicit ECParameters (uncompressed base point, cofactor 1),
// the form many eMRTDs use for brainpool keys in DG14 and DG15.
func EncodeECPublicKeyExplicit(c *eccurve.Curve, p eccurve.Point) ([]byte, error) {
	if !c.IsOnCurve(p) {
		return nil, fmt.Errorf("securityinfo: public key not on %s", c.Name)
	}
	prm := c.Params()
	n := c.ByteLen()
	a, b := coefficients(c)
	prime, err := asn1.Marshal(prm.P)
	if err != nil {
		return nil, err
	}
	e := ecParameters{
		Version: 1,
		FieldID: fieldID{FieldType: oidPrimeField, Prime: asn1.RawValue{FullBytes: prime}},
		Curve: curveCoefficients{
			A: a.FillBytes(make([]byte, n)),
			B: b.FillBytes(make([]byte, n)),
		},
		Base:     c.Marshal(c.Generator()),
		Order:    prm.N,
		Cofactor: big.NewInt(1),
	}
	params, err := asn1.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("securityinfo: ECParameters: %w", err)
	}
	return marshalSPKI(params, c.Marshal(p))
}

func marshalSPKI(params, point []byte) ([]byte, error) {
	k := subjectPublicKeyInfo{
		Algorithm: algorithmIdentifier{Algorithm: OIDECPublicKey, Parameters: asn1.RawValue{FullBytes: params}},
		PublicKey: asn1.BitString{Bytes: point, BitLength: 8 * len(point)},
	}
	b, err := asn1.Marshal(k)
	if err != nil {
		return nil, fmt.Errorf("securityinfo: SubjectPublicKeyInfo: %w", err)
	}
	return b, nil
}
