package activeauth

import (
	"crypto"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/vnkiosk/kiosk/devices/idcard/eccurve"
	"github.com/vnkiosk/kiosk/devices/idcard/securityinfo"
)

// ECDSA is written out on eccurve's arithmetic: crypto/ecdsa only takes brainpool
// keys through its deprecated big.Int coordinates. Verification handles public
// values only, so variable-time arithmetic leaks nothing.

type ecdsaVerifier struct {
	curve *eccurve.Curve
	pub   eccurve.Point
	hash  crypto.Hash
}

func (v ecdsaVerifier) verify(challenge, signature []byte) Result {
	res := Result{Algorithm: "ECDSA " + v.curve.Name, Hash: v.hash}
	r, s, ok := splitSignature(v.curve, signature)
	if !ok {
		return res.failed(fmt.Sprintf("signature of %d bytes is neither plain r||s nor DER for %s", len(signature), v.curve.Name))
	}
	if !verifyECDSA(v.curve, v.pub, hashToInt(v.curve, v.hash, challenge), r, s) {
		return res.failed("signature does not verify")
	}
	res.OK = true
	return res
}

// splitSignature reads the plain format of BSI TR-03111 §5.2.1 (r and s as
// fixed-length big-endian integers) that ICAO 9303 requires, and the DER
// ECDSA-Sig-Value that some national ID cards send instead.
func splitSignature(c *eccurve.Curve, sig []byte) (r, s *big.Int, ok bool) {
	l := orderLen(c)
	if len(sig) == 2*l {
		return new(big.Int).SetBytes(sig[:l]), new(big.Int).SetBytes(sig[l:]), true
	}
	var der struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(sig, &der); err == nil && len(rest) == 0 {
		return der.R, der.S, true
	}
	return nil, nil, false
}

func orderLen(c *eccurve.Curve) int { return (c.Params().N.BitLen() + 7) / 8 }

// hashToInt is the leftmost bitlen(n) bits of H(msg) (SEC 1 §4.1.3 step 5).
func hashToInt(c *eccurve.Curve, h crypto.Hash, msg []byte) *big.Int {
	hh := h.New()
	hh.Write(msg)
	d := hh.Sum(nil)
	e := new(big.Int).SetBytes(d)
	if excess := len(d)*8 - c.Params().N.BitLen(); excess > 0 {
		e.Rsh(e, uint(excess))
	}
	return e
}

// verifyECDSA is SEC 1 §4.1.4.
func verifyECDSA(c *eccurve.Curve, pub eccurve.Point, e, r, s *big.Int) bool {
	n := c.Params().N
	if r.Sign() <= 0 || s.Sign() <= 0 || r.Cmp(n) >= 0 || s.Cmp(n) >= 0 || !c.IsOnCurve(pub) {
		return false
	}
	w := new(big.Int).ModInverse(s, n)
	u1 := new(big.Int).Mul(e, w)
	u1.Mod(u1, n)
	u2 := new(big.Int).Mul(r, w)
	u2.Mod(u2, n)
	l := orderLen(c)
	x := c.Add(c.ScalarBaseMult(u1.FillBytes(make([]byte, l))), c.ScalarMult(pub, u2.FillBytes(make([]byte, l))))
	if !c.IsOnCurve(x) { // the point at infinity
		return false
	}
	v := new(big.Int).Mod(x.X, n)
	return v.Cmp(r) == 0
}

// ECDSASigner is the chip side of ECDSA active authentication for the virtual
// card: a plain r||s signature with a random nonce. Its arithmetic is not
// constant-time, which is acceptable for a simulator only.
type ECDSASigner struct {
	Curve *eccurve.Curve
	D     []byte // private scalar, big-endian
	Hash  crypto.Hash
	Rand  io.Reader // nonces; nil means crypto/rand
}

// Sign implements Signer.
func (s ECDSASigner) Sign(challenge []byte) ([]byte, error) {
	if s.Curve == nil || len(s.D) == 0 {
		return nil, errors.New("activeauth: ECDSA signer without a key")
	}
	if !s.Hash.Available() {
		return nil, fmt.Errorf("activeauth: ECDSA signer hash %v not available", s.Hash)
	}
	n := s.Curve.Params().N
	d := new(big.Int).SetBytes(s.D)
	if d.Sign() <= 0 || d.Cmp(n) >= 0 {
		return nil, errors.New("activeauth: ECDSA private key out of range")
	}
	e := hashToInt(s.Curve, s.Hash, challenge)
	l := orderLen(s.Curve)
	for range 100 {
		kb, err := s.Curve.GenerateScalar(s.Rand)
		if err != nil {
			return nil, fmt.Errorf("activeauth: ECDSA nonce: %w", err)
		}
		k := new(big.Int).SetBytes(kb)
		r := new(big.Int).Mod(s.Curve.ScalarBaseMult(kb).X, n)
		if r.Sign() == 0 {
			continue
		}
		sv := new(big.Int).Mul(r, d)
		sv.Add(sv, e)
		sv.Mul(sv, k.ModInverse(k, n))
		sv.Mod(sv, n)
		if sv.Sign() == 0 {
			continue
		}
		out := make([]byte, 2*l)
		r.FillBytes(out[:l])
		sv.FillBytes(out[l:])
		return out, nil
	}
	return nil, errors.New("activeauth: ECDSA signing kept failing")
}

// PublicKey implements Signer: a named-curve SubjectPublicKeyInfo.
func (s ECDSASigner) PublicKey() ([]byte, error) {
	if s.Curve == nil || len(s.D) == 0 {
		return nil, errors.New("activeauth: ECDSA signer without a key")
	}
	return securityinfo.EncodeECPublicKey(s.Curve, s.Curve.ScalarBaseMult(s.D))
}
