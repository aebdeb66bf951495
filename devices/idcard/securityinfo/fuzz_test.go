package securityinfo

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/vnkiosk/kiosk/devices/idcard/tlv"
)

// FuzzParse feeds hostile SecurityInfos to Parse. Whatever parses must encode, and
// the encoding is a fixed point: parsing and encoding it again gives the same bytes
// and the same number of infos of each kind.
func FuzzParse(f *testing.F) {
	f.Add(unhex(f, cccdCardAccess))
	f.Add(unhex(f, "31143012060A04007F0007020204020202010202010D")) // ICAO 9303-11 G.1
	for _, dg := range []string{dg14AT, dg14DE, dg14FR} {
		b := unhex(f, dg)
		v, err := tlv.Unwrap(b, tagDG14)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(v)
	}
	f.Add([]byte{0x31, 0x00})
	f.Add([]byte{0x31, 0x05, 0x30, 0x03, 0x06, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			return
		}
		for _, k := range s.ChipAuthenticationPublicKeys {
			if k.Curve != nil && !k.Curve.IsOnCurve(k.Point) {
				t.Fatalf("accepted a key off %s", k.Curve.Name)
			}
		}
		enc, err := EncodeCardAccess(s)
		if err != nil {
			t.Fatalf("parsed %X but cannot encode it: %v", b, err)
		}
		s2, err := Parse(enc)
		if err != nil {
			t.Fatalf("own encoding %X does not parse: %v", enc, err)
		}
		if counts(s) != counts(s2) {
			t.Fatalf("re-parse changed the infos: %v vs %v", counts(s), counts(s2))
		}
		enc2, err := EncodeCardAccess(s2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable:\n%s\n%s (%v)", hex.EncodeToString(enc), hex.EncodeToString(enc2), err)
		}
	})
}

func counts(s *SecurityInfos) [7]int {
	return [7]int{len(s.PACE), len(s.PACEDomainParameters), len(s.ChipAuthentication), len(s.ChipAuthenticationPublicKeys), len(s.TerminalAuthentication), len(s.ActiveAuthentication), len(s.Unknown)}
}

// FuzzParseECPublicKey: no panic on hostile SubjectPublicKeyInfos, and an accepted
// key re-encodes (named form) to a key that parses to the same point.
func FuzzParseECPublicKey(f *testing.F) {
	c := curve(f, "brainpoolP256r1")
	pub := c.ScalarBaseMult([]byte{3})
	for _, enc := range []func() ([]byte, error){
		func() ([]byte, error) { return EncodeECPublicKey(c, pub) },
		func() ([]byte, error) { return EncodeECPublicKeyExplicit(c, pub) },
	} {
		b, err := enc()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, p, err := ParseECPublicKey(b)
		if err != nil {
			return
		}
		named, err := EncodeECPublicKey(c, p)
		if err != nil {
			t.Fatal(err)
		}
		c2, p2, err := ParseECPublicKey(named)
		if err != nil || c2 != c || p2.X.Cmp(p.X) != 0 || p2.Y.Cmp(p.Y) != 0 {
			t.Fatalf("re-encoded key differs: %v", err)
		}
	})
}
