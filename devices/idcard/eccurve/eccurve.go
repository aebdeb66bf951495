// Package eccurve owns the elliptic curves an eMRTD may use: lookup by the
// standardized domain parameter id of ICAO 9303 Part 11 §9.5.1 and by curve OID,
// point encoding, and the scalar arithmetic PACE, chip authentication and passive
// authentication need. Go's crypto/ecdh has no brainpool curves and the card
// protocols need raw point addition, so this is the one place that uses the generic
// crypto/elliptic arithmetic, which the standard library marks deprecated for that
// reason.
package eccurve

import (
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/osanderson/brainpool"
)

// Curve is a named curve with its identifiers.
type Curve struct {
	Name        string
	ParameterID int                   // standardized domain parameter id (0 if none)
	OID         asn1.ObjectIdentifier // namedCurve OID
	elliptic.Curve
}

var curves = []*Curve{
	{Name: "P-224", ParameterID: 10, OID: asn1.ObjectIdentifier{1, 3, 132, 0, 33}, Curve: elliptic.P224()},
	{Name: "brainpoolP224r1", ParameterID: 11, OID: asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 5}, Curve: brainpool.P224r1()},
	{Name: "P-256", ParameterID: 12, OID: asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}, Curve: elliptic.P256()},
	{Name: "brainpoolP256r1", ParameterID: 13, OID: asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 7}, Curve: brainpool.P256r1()},
	{Name: "brainpoolP320r1", ParameterID: 14, OID: asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 9}, Curve: brainpool.P320r1()},
	{Name: "P-384", ParameterID: 15, OID: asn1.ObjectIdentifier{1, 3, 132, 0, 34}, Curve: elliptic.P384()},
	{Name: "brainpoolP384r1", ParameterID: 16, OID: asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 11}, Curve: brainpool.P384r1()},
	{Name: "brainpoolP512r1", ParameterID: 17, OID: asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 13}, Curve: brainpool.P512r1()},
	{Name: "P-521", ParameterID: 18, OID: asn1.ObjectIdentifier{1, 3, 132, 0, 35}, Curve: elliptic.P521()},
}

// ByParameterID returns the curve for a standardized domain parameter id.
func ByParameterID(id int) (*Curve, error) {
	for _, c := range curves {
		if c.ParameterID == id {
			return c, nil
		}
	}
	return nil, fmt.Errorf("eccurve: unsupported standardized domain parameter id %d", id)
}

// ByOID returns the curve with the given namedCurve OID.
func ByOID(oid asn1.ObjectIdentifier) (*Curve, error) {
	for _, c := range curves {
		if c.OID.Equal(oid) {
			return c, nil
		}
	}
	return nil, fmt.Errorf("eccurve: unsupported curve %s", oid)
}

// ByCurve returns the named curve for an elliptic.Curve value, matching by
// parameters so explicit-parameter keys on a known curve are recognised too. It
// compares the field, the order and the base point, not B: the brainpool curves
// report a nil B (crypto/elliptic's generic B assumes a = -3, which they do not
// have), and a base point of the right order on the right field already singles
// out one curve of this list.
func ByCurve(ec elliptic.Curve) (*Curve, error) {
	p := ec.Params()
	if p == nil || p.P == nil || p.N == nil || p.Gx == nil || p.Gy == nil {
		return nil, errors.New("eccurve: incomplete curve parameters")
	}
	for _, c := range curves {
		q := c.Params()
		if q.P.Cmp(p.P) == 0 && q.N.Cmp(p.N) == 0 && q.Gx.Cmp(p.Gx) == 0 && q.Gy.Cmp(p.Gy) == 0 {
			return c, nil
		}
	}
	return nil, errors.New("eccurve: unknown curve parameters")
}

// ByteLen is the length of one coordinate.
func (c *Curve) ByteLen() int { return (c.Params().BitSize + 7) / 8 }

// Point is an affine point; nil X means the point at infinity.
type Point struct{ X, Y *big.Int }

// Marshal encodes p uncompressed (04 || X || Y), each coordinate padded to the
// curve's byte length.
func (c *Curve) Marshal(p Point) []byte {
	n := c.ByteLen()
	out := make([]byte, 1+2*n)
	out[0] = 4
	p.X.FillBytes(out[1 : 1+n])
	p.Y.FillBytes(out[1+n:])
	return out
}

// Unmarshal decodes an uncompressed point and checks that it lies on the curve and
// is not the point at infinity: a card or terminal sending an invalid point must
// not lead us to compute with it (invalid-curve attacks).
func (c *Curve) Unmarshal(b []byte) (Point, error) {
	n := c.ByteLen()
	if len(b) != 1+2*n || b[0] != 4 {
		return Point{}, fmt.Errorf("eccurve: %s point must be %d bytes, uncompressed", c.Name, 1+2*n)
	}
	p := Point{X: new(big.Int).SetBytes(b[1 : 1+n]), Y: new(big.Int).SetBytes(b[1+n:])}
	if !c.IsOnCurve(p) {
		return Point{}, fmt.Errorf("eccurve: point not on %s", c.Name)
	}
	return p, nil
}

// IsOnCurve reports whether p is a finite point on the curve.
func (c *Curve) IsOnCurve(p Point) bool {
	if p.X == nil || p.Y == nil {
		return false
	}
	prm := c.Params()
	if p.X.Sign() < 0 || p.X.Cmp(prm.P) >= 0 || p.Y.Sign() < 0 || p.Y.Cmp(prm.P) >= 0 {
		return false
	}
	//lint:ignore SA1019 brainpool curves exist only as generic crypto/elliptic curves
	return c.Curve.IsOnCurve(p.X, p.Y)
}

// Generator returns the curve's base point.
func (c *Curve) Generator() Point {
	prm := c.Params()
	return Point{X: new(big.Int).Set(prm.Gx), Y: new(big.Int).Set(prm.Gy)}
}

// ScalarMult returns k·p.
func (c *Curve) ScalarMult(p Point, k []byte) Point {
	//lint:ignore SA1019 brainpool curves exist only as generic crypto/elliptic curves
	x, y := c.Curve.ScalarMult(p.X, p.Y, k)
	return Point{X: x, Y: y}
}

// ScalarBaseMult returns k·G.
func (c *Curve) ScalarBaseMult(k []byte) Point {
	//lint:ignore SA1019 brainpool curves exist only as generic crypto/elliptic curves
	x, y := c.Curve.ScalarBaseMult(k)
	return Point{X: x, Y: y}
}

// Add returns p+q.
func (c *Curve) Add(p, q Point) Point {
	//lint:ignore SA1019 brainpool curves exist only as generic crypto/elliptic curves
	x, y := c.Curve.Add(p.X, p.Y, q.X, q.Y)
	return Point{X: x, Y: y}
}

// GenerateScalar returns a uniformly random scalar in [1, n-1] as a big-endian
// byte string of the order's length. r is injectable so ICAO worked examples can
// run through the real code path; nil means crypto/rand.
func (c *Curve) GenerateScalar(r io.Reader) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	n := c.Params().N
	byteLen := (n.BitLen() + 7) / 8
	buf := make([]byte, byteLen)
	for range 100 {
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("eccurve: random scalar: %w", err)
		}
		if excess := byteLen*8 - n.BitLen(); excess > 0 {
			buf[0] &= 0xFF >> excess
		}
		k := new(big.Int).SetBytes(buf)
		if k.Sign() > 0 && k.Cmp(n) < 0 {
			return buf, nil
		}
	}
	return nil, errors.New("eccurve: random source keeps giving out-of-range scalars")
}
