package eccurve

import (
	"bytes"
	"math/big"
	"testing"
)

func TestLookups(t *testing.T) {
	t.Parallel()
	for _, c := range curves {
		byID, err := ByParameterID(c.ParameterID)
		if err != nil || byID != c {
			t.Errorf("ByParameterID(%d) = %v, %v", c.ParameterID, byID, err)
		}
		byOID, err := ByOID(c.OID)
		if err != nil || byOID != c {
			t.Errorf("ByOID(%s) = %v, %v", c.OID, byOID, err)
		}
		byCurve, err := ByCurve(c.Curve)
		if err != nil || byCurve != c {
			t.Errorf("ByCurve(%s) = %v, %v", c.Name, byCurve, err)
		}
	}
	if c, _ := ByParameterID(13); c.Name != "brainpoolP256r1" {
		t.Errorf("parameter id 13 is %s, want brainpoolP256r1 (the CCCD's)", c.Name)
	}
	if _, err := ByParameterID(2); err == nil {
		t.Error("DH parameter id accepted as a curve")
	}
}

func TestPointEncoding(t *testing.T) {
	t.Parallel()
	for _, c := range curves {
		k, err := c.GenerateScalar(nil)
		if err != nil {
			t.Fatal(err)
		}
		p := c.ScalarBaseMult(k)
		enc := c.Marshal(p)
		if len(enc) != 1+2*c.ByteLen() || enc[0] != 4 {
			t.Fatalf("%s: encoding of %d bytes", c.Name, len(enc))
		}
		q, err := c.Unmarshal(enc)
		if err != nil || q.X.Cmp(p.X) != 0 || q.Y.Cmp(p.Y) != 0 {
			t.Fatalf("%s: round trip: %v", c.Name, err)
		}
		// k·G + G = (k+1)·G exercises Add against ScalarBaseMult.
		k1 := new(big.Int).Add(new(big.Int).SetBytes(k), big.NewInt(1))
		sum := c.Add(p, c.Generator())
		if want := c.ScalarBaseMult(k1.Bytes()); sum.X.Cmp(want.X) != 0 {
			t.Errorf("%s: Add disagrees with ScalarBaseMult", c.Name)
		}
		bad := bytes.Clone(enc)
		bad[len(bad)-1] ^= 1
		if _, err := c.Unmarshal(bad); err == nil {
			t.Errorf("%s: off-curve point accepted", c.Name)
		}
		if _, err := c.Unmarshal(enc[:len(enc)-1]); err == nil {
			t.Errorf("%s: short point accepted", c.Name)
		}
		comp := append([]byte{2}, enc[1:1+c.ByteLen()]...)
		if _, err := c.Unmarshal(comp); err == nil {
			t.Errorf("%s: compressed point accepted", c.Name)
		}
	}
}

// zeros is a reader of zero bytes: a scalar of 0 must be refused and retried,
// and a source that only ever gives 0 must end in an error, not a loop.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestGenerateScalarRejectsZero(t *testing.T) {
	t.Parallel()
	c, _ := ByParameterID(13)
	if _, err := c.GenerateScalar(zeros{}); err == nil {
		t.Error("an all-zero random source produced a scalar")
	}
}
