package securityinfo

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/vnkiosk/kiosk/devices/idcard/eccurve"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "\n", "", "\t", "").Replace(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// EF.CardAccess of the CCCD as published by open-source readers (DOMAIN.md).
const cccdCardAccess = "3134300d060804007f0007020202020101300f060a04007f000702020302020201013012060a04007f0007020204020202010202010d"

// DG14 files captured from real passports, published with gmrtd's chip
// authentication tests: explicit brainpoolP256r1 parameters (AT), the same with a
// keyId and a PACE-CAM info (DE), and explicit P-256 parameters with no
// ChipAuthenticationInfo at all (FR).
const (
	dg14AT = "6E82017E3182017A300D060804007F0007020202020101300F060A04007F000702020302020201013012060A04007F0007020204020202010202010D30820142060904007F000702020102308201333081EC06072A8648CE3D02013081E0020101302C06072A8648CE3D0101022100A9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377304404207D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9042026DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B60441048BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD9ACE3262547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F046997022100A9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7020101034200041983917269AC877C0B61544C2C022000D2A5ABA723E2D80141E648B40911DC3459761F27480E4B57181A53D8FE1190EA86C939AC14363178CAFFC621F0F905C3"
	dg14DE = "6E82019A31820196300D060804007F00070202020201013012060A04007F0007020204020202010202010D3012060A04007F0007020204060202010202010D3013060A04007F00070202030202020101020200C330820146060904007F000702020102308201333081EC06072A8648CE3D02013081E0020101302C06072A8648CE3D0101022100A9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377304404207D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9042026DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B60441048BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD9ACE3262547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F046997022100A9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7020101034200047036BC5D0BCF31913B59103BB6F2C0C98C99EF4C19B9517340B76BFE4EE2194C76C3F3314E021D4B092DB5A32AB7D6E297F2FBEAE45AA28DEFC4DA750FEAD54E020200C3"
	dg14FR = "6E82015E3182015A30820142060904007F000702020102308201333081EC06072A8648CE3D02013081E0020101302C06072A8648CE3D0101022100FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF30440420FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC04205AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B0441046B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C2964FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5022100FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551020101034200048367FC170D90AD53A28C6526A9C7EC4F5C59C4F7F5D992583F951A1654B4D1D6332163A33D82CBF245154887A8812ED9A55C15AD9D5C5C463851875BBA9AEABD3012060A04007F0007020204020402010202010C"
)

func oid(s string) asn1.ObjectIdentifier {
	var o asn1.ObjectIdentifier
	for _, part := range strings.Split(s, ".") {
		n := 0
		for _, c := range part {
			n = n*10 + int(c-'0')
		}
		o = append(o, n)
	}
	return o
}

func curve(t testing.TB, name string) *eccurve.Curve {
	t.Helper()
	ids := map[string]int{"P-256": 12, "brainpoolP256r1": 13, "brainpoolP384r1": 16, "brainpoolP512r1": 17, "P-384": 15, "P-521": 18, "P-224": 10, "brainpoolP224r1": 11, "brainpoolP320r1": 14}
	c, err := eccurve.ByParameterID(ids[name])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParseCCCDCardAccess(t *testing.T) {
	t.Parallel()
	b := unhex(t, cccdCardAccess)
	s, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	want := &SecurityInfos{
		PACE:                   []PACEInfo{{Protocol: oid("0.4.0.127.0.7.2.2.4.2.2"), Version: 2, ParameterID: new(13)}},
		ChipAuthentication:     []ChipAuthenticationInfo{{Protocol: oid("0.4.0.127.0.7.2.2.3.2.2"), Version: 1}},
		TerminalAuthentication: []TerminalAuthenticationInfo{{Protocol: oid("0.4.0.127.0.7.2.2.2"), Version: 1}},
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("Parse =\n%+v\nwant\n%+v", s, want)
	}
	pp, err := s.PACE[0].PACEProtocol()
	if err != nil {
		t.Fatal(err)
	}
	if pp != (PACEProtocol{KeyAgreement: ECDH, Mapping: GenericMapping, Cipher: AES128}) || pp.String() != "id-PACE-ECDH-GM-AES-CBC-CMAC-128" {
		t.Errorf("PACE protocol = %+v (%s)", pp, pp)
	}
	cp, err := s.ChipAuthentication[0].CAProtocol()
	if err != nil {
		t.Fatal(err)
	}
	if cp != (CAProtocol{KeyAgreement: ECDH, Cipher: AES128}) || cp.String() != "id-CA-ECDH-AES-CBC-CMAC-128" {
		t.Errorf("CA protocol = %+v (%s)", cp, cp)
	}
	enc, err := EncodeCardAccess(s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, b) {
		t.Errorf("re-encoded\n%X\nwant\n%X", enc, b)
	}
}

func TestParseRealDG14(t *testing.T) {
	t.Parallel()
	bp256 := curve(t, "brainpoolP256r1")
	p256 := curve(t, "P-256")
	point := func(c *eccurve.Curve, x, y string) eccurve.Point {
		p, err := c.Unmarshal(unhex(t, "04"+x+y))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name     string
		dg14     string
		pace     []PACEInfo
		ca       []ChipAuthenticationInfo
		keyCurve *eccurve.Curve
		keyPoint eccurve.Point
		keyID    *int
		// pair is what ChipAuthenticationPair should choose.
		pairProtocol CAProtocol
		// unsorted: the card's SET is not in DER order, so the DER re-encoding
		// can only equal it up to the order of the elements.
		unsorted bool
	}{
		{
			name:         "AT explicit brainpoolP256r1",
			dg14:         dg14AT,
			pace:         []PACEInfo{{Protocol: oid("0.4.0.127.0.7.2.2.4.2.2"), Version: 2, ParameterID: new(13)}},
			ca:           []ChipAuthenticationInfo{{Protocol: oid("0.4.0.127.0.7.2.2.3.2.2"), Version: 1}},
			keyCurve:     bp256,
			keyPoint:     point(bp256, "1983917269AC877C0B61544C2C022000D2A5ABA723E2D80141E648B40911DC34", "59761F27480E4B57181A53D8FE1190EA86C939AC14363178CAFFC621F0F905C3"),
			pairProtocol: CAProtocol{ECDH, AES128},
		},
		{
			name: "DE keyId and PACE-CAM",
			dg14: dg14DE,
			pace: []PACEInfo{
				{Protocol: oid("0.4.0.127.0.7.2.2.4.2.2"), Version: 2, ParameterID: new(13)},
				{Protocol: oid("0.4.0.127.0.7.2.2.4.6.2"), Version: 2, ParameterID: new(13)},
			},
			ca:           []ChipAuthenticationInfo{{Protocol: oid("0.4.0.127.0.7.2.2.3.2.2"), Version: 1, KeyID: new(0xC3)}},
			keyCurve:     bp256,
			keyPoint:     point(bp256, "7036BC5D0BCF31913B59103BB6F2C0C98C99EF4C19B9517340B76BFE4EE2194C", "76C3F3314E021D4B092DB5A32AB7D6E297F2FBEAE45AA28DEFC4DA750FEAD54E"),
			keyID:        new(0xC3),
			pairProtocol: CAProtocol{ECDH, AES128},
		},
		{
			name:         "FR explicit P-256, no ChipAuthenticationInfo",
			dg14:         dg14FR,
			pace:         []PACEInfo{{Protocol: oid("0.4.0.127.0.7.2.2.4.2.4"), Version: 2, ParameterID: new(12)}},
			keyCurve:     p256,
			keyPoint:     point(p256, "8367FC170D90AD53A28C6526A9C7EC4F5C59C4F7F5D992583F951A1654B4D1D6", "332163A33D82CBF245154887A8812ED9A55C15AD9D5C5C463851875BBA9AEABD"),
			pairProtocol: CAProtocol{ECDH, TripleDES},
			unsorted:     true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := unhex(t, tc.dg14)
			s, err := ParseDG14(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(s.PACE, tc.pace) {
				t.Errorf("PACE = %+v, want %+v", s.PACE, tc.pace)
			}
			if !reflect.DeepEqual(s.ChipAuthentication, tc.ca) {
				t.Errorf("CA = %+v, want %+v", s.ChipAuthentication, tc.ca)
			}
			if len(s.ChipAuthenticationPublicKeys) != 1 {
				t.Fatalf("%d CA public keys", len(s.ChipAuthenticationPublicKeys))
			}
			pk := s.ChipAuthenticationPublicKeys[0]
			if !pk.Protocol.Equal(OIDPKECDH) || pk.Curve != tc.keyCurve || pk.Point.X.Cmp(tc.keyPoint.X) != 0 || pk.Point.Y.Cmp(tc.keyPoint.Y) != 0 {
				t.Errorf("CA key = %s %v on %v", pk.Protocol, pk.Point, pk.Curve)
			}
			if !reflect.DeepEqual(pk.KeyID, tc.keyID) {
				t.Errorf("CA key id = %v, want %v", pk.KeyID, tc.keyID)
			}
			ca, key, err := s.ChipAuthenticationPair()
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := ca.CAProtocol(); got != tc.pairProtocol || !reflect.DeepEqual(key, pk) {
				t.Errorf("pair = %s with key %v", got, key.KeyID)
			}
			enc, err := EncodeDG14(s)
			if err != nil {
				t.Fatal(err)
			}
			if tc.unsorted {
				again, err := ParseDG14(enc)
				if err != nil {
					t.Fatal(err)
				}
				if len(enc) != len(b) || !reflect.DeepEqual(again, s) {
					t.Errorf("re-encoded\n%X\nparses differently from\n%X", enc, b)
				}
			} else if !bytes.Equal(enc, b) {
				t.Errorf("re-encoded\n%X\nwant\n%X", enc, b)
			}
		})
	}
}

func TestPACEProtocolOIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		oid  string
		want PACEProtocol
		ok   bool
	}{
		{"0.4.0.127.0.7.2.2.4.1.1", PACEProtocol{DH, GenericMapping, TripleDES}, true},
		{"0.4.0.127.0.7.2.2.4.1.4", PACEProtocol{DH, GenericMapping, AES256}, true},
		{"0.4.0.127.0.7.2.2.4.2.1", PACEProtocol{ECDH, GenericMapping, TripleDES}, true},
		{"0.4.0.127.0.7.2.2.4.2.2", PACEProtocol{ECDH, GenericMapping, AES128}, true},
		{"0.4.0.127.0.7.2.2.4.2.3", PACEProtocol{ECDH, GenericMapping, AES192}, true},
		{"0.4.0.127.0.7.2.2.4.2.4", PACEProtocol{ECDH, GenericMapping, AES256}, true},
		{"0.4.0.127.0.7.2.2.4.3.2", PACEProtocol{DH, IntegratedMapping, AES128}, true},
		{"0.4.0.127.0.7.2.2.4.4.3", PACEProtocol{ECDH, IntegratedMapping, AES192}, true},
		{"0.4.0.127.0.7.2.2.4.6.2", PACEProtocol{ECDH, ChipAuthenticationMapping, AES128}, true},
		{"0.4.0.127.0.7.2.2.4.6.1", PACEProtocol{}, false}, // CAM has no 3DES
		{"0.4.0.127.0.7.2.2.4.5.2", PACEProtocol{}, false}, // arc 5 is unassigned
		{"0.4.0.127.0.7.2.2.4.2.5", PACEProtocol{}, false},
		{"0.4.0.127.0.7.2.2.4.2.0", PACEProtocol{}, false},
		{"0.4.0.127.0.7.2.2.4.2", PACEProtocol{}, false},
		{"0.4.0.127.0.7.2.2.3.2.2", PACEProtocol{}, false},
	}
	for _, tc := range tests {
		got, err := ParsePACEProtocol(oid(tc.oid))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParsePACEProtocol(%s) = %+v, %v; want %+v ok=%v", tc.oid, got, err, tc.want, tc.ok)
		}
		if tc.ok && !got.OID().Equal(oid(tc.oid)) {
			t.Errorf("%+v.OID() = %s, want %s", got, got.OID(), tc.oid)
		}
	}
	if o := (PACEProtocol{ECDH, ChipAuthenticationMapping, TripleDES}).OID(); o != nil {
		t.Errorf("OID of undefined CAM-3DES = %s", o)
	}
}

func TestCAProtocolOIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		oid  string
		want CAProtocol
		ok   bool
	}{
		{"0.4.0.127.0.7.2.2.3.1.1", CAProtocol{DH, TripleDES}, true},
		{"0.4.0.127.0.7.2.2.3.1.2", CAProtocol{DH, AES128}, true},
		{"0.4.0.127.0.7.2.2.3.2.1", CAProtocol{ECDH, TripleDES}, true},
		{"0.4.0.127.0.7.2.2.3.2.2", CAProtocol{ECDH, AES128}, true},
		{"0.4.0.127.0.7.2.2.3.2.3", CAProtocol{ECDH, AES192}, true},
		{"0.4.0.127.0.7.2.2.3.2.4", CAProtocol{ECDH, AES256}, true},
		{"0.4.0.127.0.7.2.2.3.2.0", CAProtocol{}, false},
		{"0.4.0.127.0.7.2.2.3.3.2", CAProtocol{}, false},
		{"0.4.0.127.0.7.2.2.3.2", CAProtocol{}, false},
		{"0.4.0.127.0.7.2.2.4.2.2", CAProtocol{}, false},
	}
	for _, tc := range tests {
		got, err := ParseCAProtocol(oid(tc.oid))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseCAProtocol(%s) = %+v, %v; want %+v ok=%v", tc.oid, got, err, tc.want, tc.ok)
		}
		if tc.ok && !got.OID().Equal(oid(tc.oid)) {
			t.Errorf("%+v.OID() = %s, want %s", got, got.OID(), tc.oid)
		}
	}
}

// RFC 5639 §3.4 and FIPS 186-4 D.1.2.3 give a and b; coefficients derives them from
// two curve points, which must agree.
func TestCoefficients(t *testing.T) {
	t.Parallel()
	tests := []struct {
		curve string
		a, b  string
	}{
		{"brainpoolP256r1", "7D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9", "26DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B6"},
		{"P-256", "FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC", "5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B"},
		{"brainpoolP384r1", "7BC382C63D8C150C3C72080ACE05AFA0C2BEA28E4FB22787139165EFBA91F90F8AA5814A503AD4EB04A8C7DD22CE2826", "04A8C7DD22CE28268B39B55416F0447C2FB77DE107DCD2A62E880EA53EEB62D57CB4390295DBC9943AB78696FA504C11"},
	}
	for _, tc := range tests {
		a, b := coefficients(curve(t, tc.curve))
		if a.Cmp(new(big.Int).SetBytes(unhex(t, tc.a))) != 0 || b.Cmp(new(big.Int).SetBytes(unhex(t, tc.b))) != 0 {
			t.Errorf("%s: a=%X b=%X", tc.curve, a, b)
		}
	}
}

func TestECPublicKeyRoundTrip(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"P-224", "brainpoolP224r1", "P-256", "brainpoolP256r1", "brainpoolP320r1", "P-384", "brainpoolP384r1", "brainpoolP512r1", "P-521"} {
		c := curve(t, name)
		k, err := c.GenerateScalar(nil)
		if err != nil {
			t.Fatal(err)
		}
		pub := c.ScalarBaseMult(k)
		for form, enc := range map[string]func(*eccurve.Curve, eccurve.Point) ([]byte, error){"named": EncodeECPublicKey, "explicit": EncodeECPublicKeyExplicit} {
			spki, err := enc(c, pub)
			if err != nil {
				t.Fatalf("%s %s: %v", name, form, err)
			}
			gc, gp, err := ParseECPublicKey(spki)
			if err != nil {
				t.Fatalf("%s %s: %v", name, form, err)
			}
			if gc != c || gp.X.Cmp(pub.X) != 0 || gp.Y.Cmp(pub.Y) != 0 {
				t.Errorf("%s %s: decoded %s %v", name, form, gc.Name, gp)
			}
		}
	}
}

func TestParseECPublicKeyRejects(t *testing.T) {
	t.Parallel()
	c := curve(t, "brainpoolP256r1")
	pub := c.ScalarBaseMult([]byte{7})
	named, err := EncodeECPublicKey(c, pub)
	if err != nil {
		t.Fatal(err)
	}
	explicit, err := EncodeECPublicKeyExplicit(c, pub)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := coefficients(c)
	aBytes := a.FillBytes(make([]byte, 32))
	tamper := func(b []byte, old, new []byte) []byte {
		i := bytes.Index(b, old)
		if i < 0 {
			t.Fatalf("%X not found", old)
		}
		out := bytes.Clone(b)
		copy(out[i:], new)
		return out
	}
	otherA := bytes.Clone(aBytes)
	otherA[31] ^= 1
	offCurve := bytes.Clone(c.Marshal(pub))
	offCurve[64] ^= 1
	secp256k1 := oid("1.3.132.0.10")
	k1, _ := asn1.Marshal(secp256k1)
	k1SPKI, err := marshalSPKI(k1, c.Marshal(pub))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		spki    []byte
		unknown bool // well-formed but on a curve we do not have
	}{
		{"garbage", []byte{0x30, 0x03, 0x02, 0x01}, false},
		{"point off the curve", tamper(named, c.Marshal(pub), offCurve), false},
		{"explicit with wrong a", tamper(explicit, aBytes, otherA), true},
		{"unknown named curve", k1SPKI, true},
		{"RSA algorithm", tamper(named, []byte{0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01}, []byte{0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x02}), false},
	}
	for _, tc := range tests {
		_, _, err := ParseECPublicKey(tc.spki)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if errors.Is(err, errUnknownCurve) != tc.unknown {
			t.Errorf("%s: %v, unknown curve = %v", tc.name, err, !tc.unknown)
		}
	}
	// A DG14 key on an unknown curve does not make the file unreadable.
	info := encodeTestInfo(t, OIDPKECDH, asn1.RawValue{FullBytes: tamper(explicit, aBytes, otherA)})
	s, err := Parse(setOf(info))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.ChipAuthenticationPublicKeys) != 1 || s.ChipAuthenticationPublicKeys[0].Curve != nil {
		t.Fatalf("unknown-curve key: %+v", s.ChipAuthenticationPublicKeys)
	}
	if _, _, err := s.ChipAuthenticationPublicKeys[0].ECPublicKey(); !errors.Is(err, errUnknownCurve) {
		t.Errorf("ECPublicKey: %v", err)
	}
}

func encodeTestInfo(t testing.TB, parts ...any) []byte {
	t.Helper()
	var body []byte
	for _, p := range parts {
		b, err := asn1.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		body = append(body, b...)
	}
	b, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: body})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func setOf(elems ...[]byte) []byte {
	var body []byte
	for _, e := range elems {
		body = append(body, e...)
	}
	b, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: body})
	return b
}

func TestUnknownAndActiveAuthenticationInfos(t *testing.T) {
	t.Parallel()
	aa := encodeTestInfo(t, OIDAA, 1, oid("0.4.0.127.0.7.1.1.4.1.3"))
	// EFDIRInfo-like and CardInfoLocator-like infos this package does not decode.
	unknown1 := encodeTestInfo(t, oid("0.4.0.127.0.7.2.2.12"), asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagOctetString, Bytes: []byte{1, 2}})
	unknown2 := encodeTestInfo(t, oid("0.4.0.127.0.7.2.2.3.2"), asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: []byte{0x02, 0x01, 0x05}}, 7)
	ta := encodeTestInfo(t, OIDTA, 2, asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: []byte{0x04, 0x02, 0x01, 0x1C}})
	in := setOf(aa, unknown1, unknown2, ta)
	s, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := []ActiveAuthenticationInfo{{Protocol: OIDAA, Version: 1, SignatureAlgorithm: oid("0.4.0.127.0.7.1.1.4.1.3")}}; !reflect.DeepEqual(s.ActiveAuthentication, want) {
		t.Errorf("AA = %+v", s.ActiveAuthentication)
	}
	if len(s.Unknown) != 2 || !bytes.Equal(s.Unknown[0].Raw, unknown1) || !bytes.Equal(s.Unknown[1].Raw, unknown2) || !s.Unknown[1].Protocol.Equal(oid("0.4.0.127.0.7.2.2.3.2")) {
		t.Errorf("Unknown = %+v", s.Unknown)
	}
	if len(s.TerminalAuthentication) != 1 || s.TerminalAuthentication[0].Version != 2 || !bytes.Equal(s.TerminalAuthentication[0].EFCVCA, []byte{0x30, 0x04, 0x04, 0x02, 0x01, 0x1C}) {
		t.Errorf("TA = %+v", s.TerminalAuthentication)
	}
	enc, err := EncodeCardAccess(s)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, s) {
		t.Errorf("round trip changed the infos:\n%+v\n%+v", again, s)
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	paceOID := oid("0.4.0.127.0.7.2.2.4.2.2")
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"SEQUENCE instead of SET", unhex(t, "3003020101")},
		{"trailing bytes", append(unhex(t, cccdCardAccess), 0)},
		{"element not a SEQUENCE", setOf([]byte{0x02, 0x01, 0x01})},
		{"protocol not an OID", setOf(encodeTestInfo(t, 5, 2))},
		{"empty SecurityInfo", setOf([]byte{0x30, 0x00})},
		{"PACEInfo without version", setOf(encodeTestInfo(t, paceOID))},
		{"PACEInfo version not INTEGER", setOf(encodeTestInfo(t, paceOID, "2"))},
		{"PACEInfo with 4 elements", setOf(encodeTestInfo(t, paceOID, 2, 13, 1))},
		{"CA public key not a SEQUENCE", setOf(encodeTestInfo(t, OIDPKECDH, 1))},
		{"AA without algorithm", setOf(encodeTestInfo(t, OIDAA, 1))},
		{"truncated", unhex(t, cccdCardAccess)[:20]},
	}
	for _, tc := range tests {
		if s, err := Parse(tc.in); err == nil {
			t.Errorf("%s: accepted: %+v", tc.name, s)
		}
	}
}

func TestChipAuthenticationPairErrors(t *testing.T) {
	t.Parallel()
	c := curve(t, "brainpoolP256r1")
	spki, err := EncodeECPublicKey(c, c.ScalarBaseMult([]byte{9}))
	if err != nil {
		t.Fatal(err)
	}
	key := func(id *int) ChipAuthenticationPublicKeyInfo {
		return ChipAuthenticationPublicKeyInfo{Protocol: OIDPKECDH, SubjectPublicKeyInfo: spki, KeyID: id, Curve: c, Point: c.ScalarBaseMult([]byte{9})}
	}
	caAES := oid("0.4.0.127.0.7.2.2.3.2.2")
	tests := []struct {
		name string
		s    SecurityInfos
		ok   bool
	}{
		{"nothing", SecurityInfos{}, false},
		{"info without key", SecurityInfos{ChipAuthentication: []ChipAuthenticationInfo{{Protocol: caAES, Version: 1}}}, false},
		{"key ids differ", SecurityInfos{
			ChipAuthentication:           []ChipAuthenticationInfo{{Protocol: caAES, Version: 1, KeyID: new(1)}},
			ChipAuthenticationPublicKeys: []ChipAuthenticationPublicKeyInfo{key(new(2))},
		}, false},
		{"key ids match", SecurityInfos{
			ChipAuthentication:           []ChipAuthenticationInfo{{Protocol: caAES, Version: 1, KeyID: new(1)}},
			ChipAuthenticationPublicKeys: []ChipAuthenticationPublicKeyInfo{key(new(2)), key(new(1))},
		}, true},
		{"DH info with EC key", SecurityInfos{
			ChipAuthentication:           []ChipAuthenticationInfo{{Protocol: oid("0.4.0.127.0.7.2.2.3.1.2"), Version: 1}},
			ChipAuthenticationPublicKeys: []ChipAuthenticationPublicKeyInfo{key(nil)},
		}, false},
	}
	for _, tc := range tests {
		ca, pk, err := tc.s.ChipAuthenticationPair()
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
		if tc.ok && (ca.KeyID == nil || pk.KeyID == nil || *ca.KeyID != *pk.KeyID) {
			t.Errorf("%s: paired %v with %v", tc.name, ca.KeyID, pk.KeyID)
		}
	}
}
