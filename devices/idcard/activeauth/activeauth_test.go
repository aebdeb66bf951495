package activeauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"sync"
	"testing"

	"github.com/vnkiosk/kiosk/devices/idcard/eccurve"
	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/iso7816/iso7816test"
	"github.com/vnkiosk/kiosk/devices/idcard/securemessaging"
	"github.com/vnkiosk/kiosk/devices/idcard/securityinfo"
	"github.com/vnkiosk/kiosk/devices/idcard/tlv"
)

var unhex = iso7816test.Unhex

// A real passport's active authentication (RSA-1792, SHA-256 trailer 34CC) over 3DES
// secure messaging, published with gmrtd's tests: DG15, the session state, the
// challenge and the exact protected APDUs.
const (
	realDG15      = "6F8201023081FF300D06092A864886F70D01010105000381ED003081E90281E100BB8F93F4DC95E205CDA17C6927AB1E365B13065D03CD12E0FCE95D96840529453202F56CC4C13F77CD062930C8BC89A2873B257045C286E601CF3C09323A53103314902804AA10A314628CE222206A8866946A36B442041BB54AC81E6855DD1D6E16101833D65A191C20AC8B33B8A1A32920F46043F8031CF2BC17417030865FC5BE5A39DEE423BCBA3CA8177168EB23CFE01BA43EC87711B1CFFF85DB46F300DD8AE317B50D543B573E119E23AF7070D0B2FED6A3B2313A5EC02A531AAED1741F4390D1013E2A0F081EAC5DC8B0A1B2C6BDB1206F08D30E3643E1E5BDF536110203010001"
	realChallenge = "96302b0f3d7e7864"
	realSignature = "474256306840c0ab1b63c10e1c26bdfef4a0dd843920283cc4e6e70a60f2bd25dc7725f9677bc1cde66379dc28b38e8490f33afb2d10f9980c44c0bfc175d2b6684218f535c92fdd3e18db770a9ccbf91db3c7f0138e6d9e94b9bc8371761e3abed5e5e9b260279cfb238b58ae0d6a01da51c74c2a3ecd62c448bd9f20127f7384587287fa971204234e55b1a856c3e5aaaa620bb799a68fbae08ee132bb61683eba9b0b40dc1e54641cad975b16991cab50af82e3f3985afd19e7427a125f5b4b9878b12a5d2e01c7eedca3bb41c6fc05dccd818bce379d04b1f2f5d43487d3"
	realKSenc     = "b99d546108eaa251570876b6d3456dce"
	realKSmac     = "e3857ca24946251c151c540e13f2cd51"
	realSSC       = "00000000000000cc"
	realCommand   = "0c88000020871101ed7f8cb47a4eea086324a7f9dd7427809701008e0897f54bae49aa71f800"
	realResponse  = "8781e901d04ca80f527df94f4a430d3d6e6cb6c2af4c6756c068a93132d147fa27833125304132981b8bd8009448e89f259eec8552b54285cef9d8f1b7fb31b9f279221c7e925f4951811f3fe2e01d76e68dbc7cde9c873c5f61862f3c5469792a72f92c8943b890436f5e9feaead9f2a361fcd7a615493d1b3519865f32ee9a125886588eb21fee0e709353d0731139fdc958d6b2127fad6947b438998b526819803f70f78614cd42f4a6619c6af95dfd2ab09bedf71e707abc39a250aee68006d522ad37d159674984a07d11c001022c853aeb7acdb059ede5721a3b9f20441bda7e242ee8df1369d25316990290008e08fd2493147866f0ed9000"
)

type script = iso7816test.Playback

func realSPKI(t testing.TB) []byte {
	spki, err := tlv.Unwrap(unhex(t, realDG15), 0x6F)
	if err != nil {
		t.Fatal(err)
	}
	return spki
}

func TestRealPassportOverSecureMessaging(t *testing.T) {
	t.Parallel()
	sc := &script{T: t, Exchanges: [][2]string{{realCommand, realResponse}}}
	ch, err := securemessaging.NewChannel(iso7816.NewConn(sc), securemessaging.TripleDES, unhex(t, realKSenc), unhex(t, realKSmac), unhex(t, realSSC))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Authenticate(context.Background(), ch, realSPKI(t), nil, bytes.NewReader(unhex(t, realChallenge)))
	if err != nil {
		t.Fatal(err)
	}
	sc.Done()
	if !res.OK || res.Hash != crypto.SHA256 || res.Algorithm != "RSA-1792 ISO/IEC 9796-2 scheme 1" {
		t.Errorf("result = %+v", res)
	}
}

func TestRealPassportSignature(t *testing.T) {
	t.Parallel()
	spki := realSPKI(t)
	sig := unhex(t, realSignature)
	challenge := unhex(t, realChallenge)
	res, err := Verify(spki, nil, challenge, sig)
	if err != nil || !res.OK {
		t.Fatalf("genuine signature: %+v, %v", res, err)
	}
	otherChallenge := bytes.Clone(challenge)
	otherChallenge[7] ^= 1
	tampered := bytes.Clone(sig)
	tampered[100] ^= 0x10
	for name, tc := range map[string]struct{ challenge, sig []byte }{
		"other challenge":    {otherChallenge, sig},
		"tampered signature": {challenge, tampered},
		"truncated":          {challenge, sig[1:]},
		"too long":           {challenge, append([]byte{1}, sig...)},
		"empty":              {challenge, nil},
		"zero":               {challenge, make([]byte, len(sig))},
	} {
		res, err := Verify(spki, nil, tc.challenge, tc.sig)
		if err != nil {
			t.Errorf("%s: error %v, want a failed result", name, err)
		}
		if res.OK || res.Reason == "" {
			t.Errorf("%s: %+v", name, res)
		}
	}
}

var (
	rsaKeysOnce sync.Once
	rsaKeys     map[int]*rsa.PrivateKey
)

func rsaKey(t testing.TB, bits int) *rsa.PrivateKey {
	rsaKeysOnce.Do(func() {
		rsaKeys = map[int]*rsa.PrivateKey{}
		for _, b := range []int{1024, 2048} {
			k, err := rsa.GenerateKey(rand.Reader, b)
			if err != nil {
				panic(err)
			}
			rsaKeys[b] = k
		}
	})
	return rsaKeys[bits]
}

// cardSender answers INTERNAL AUTHENTICATE with a Signer, as the virtual card does.
type cardSender struct {
	signer Signer
	mangle func([]byte) []byte
	sw     iso7816.SW
}

func (c cardSender) Send(_ context.Context, cmd iso7816.Command) (iso7816.Response, error) {
	if c.sw != 0 {
		return iso7816.Response{SW: c.sw}, nil
	}
	if cmd.CLA != 0 || cmd.INS != 0x88 || cmd.Ne != 256 {
		return iso7816.Response{SW: iso7816.SWINSNotSupported}, nil
	}
	r := Respond(c.signer, cmd)
	if c.mangle != nil {
		r.Data = c.mangle(r.Data)
	}
	return r, nil
}

func TestRoundTrips(t *testing.T) {
	t.Parallel()
	bp256, _ := eccurve.ByParameterID(13)
	p256, _ := eccurve.ByParameterID(12)
	bp384, _ := eccurve.ByParameterID(16)
	ecSigner := func(c *eccurve.Curve, h crypto.Hash) Signer {
		d, err := c.GenerateScalar(nil)
		if err != nil {
			t.Fatal(err)
		}
		return ECDSASigner{Curve: c, D: d, Hash: h}
	}
	tests := []struct {
		name   string
		signer Signer
		hash   crypto.Hash
		algo   string
	}{
		{"RSA-1024 SHA-1", RSASigner{Key: rsaKey(t, 1024), Hash: crypto.SHA1}, crypto.SHA1, "RSA-1024 ISO/IEC 9796-2 scheme 1"},
		{"RSA-1024 SHA-256", RSASigner{Key: rsaKey(t, 1024), Hash: crypto.SHA256}, crypto.SHA256, "RSA-1024 ISO/IEC 9796-2 scheme 1"},
		{"RSA-2048 SHA-1", RSASigner{Key: rsaKey(t, 2048), Hash: crypto.SHA1}, crypto.SHA1, "RSA-2048 ISO/IEC 9796-2 scheme 1"},
		{"RSA-2048 SHA-256", RSASigner{Key: rsaKey(t, 2048), Hash: crypto.SHA256}, crypto.SHA256, "RSA-2048 ISO/IEC 9796-2 scheme 1"},
		{"RSA-2048 SHA-512", RSASigner{Key: rsaKey(t, 2048), Hash: crypto.SHA512}, crypto.SHA512, "RSA-2048 ISO/IEC 9796-2 scheme 1"},
		{"ECDSA brainpoolP256r1 SHA-256", ecSigner(bp256, crypto.SHA256), crypto.SHA256, "ECDSA brainpoolP256r1"},
		{"ECDSA P-256 SHA-256", ecSigner(p256, crypto.SHA256), crypto.SHA256, "ECDSA P-256"},
		{"ECDSA brainpoolP384r1 SHA-384", ecSigner(bp384, crypto.SHA384), crypto.SHA384, "ECDSA brainpoolP384r1"},
		{"ECDSA brainpoolP256r1 SHA-512 truncated", ecSigner(bp256, crypto.SHA512), crypto.SHA512, "ECDSA brainpoolP256r1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spki, err := tc.signer.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			var info *securityinfo.ActiveAuthenticationInfo
			if _, ok := tc.signer.(ECDSASigner); ok {
				alg, err := PlainSignatureAlgorithm(tc.hash)
				if err != nil {
					t.Fatal(err)
				}
				info = &securityinfo.ActiveAuthenticationInfo{Protocol: securityinfo.OIDAA, Version: 1, SignatureAlgorithm: alg}
			}
			res, err := Authenticate(context.Background(), cardSender{signer: tc.signer}, spki, info, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK || res.Hash != tc.hash || res.Algorithm != tc.algo {
				t.Errorf("genuine chip: %+v", res)
			}
			for name, mangle := range map[string]func([]byte) []byte{
				"bit flip":       func(b []byte) []byte { b[len(b)/2] ^= 0x01; return b },
				"last byte":      func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b },
				"empty":          func([]byte) []byte { return nil },
				"one byte short": func(b []byte) []byte { return b[:len(b)-1] },
			} {
				res, err := Authenticate(context.Background(), cardSender{signer: tc.signer, mangle: mangle}, spki, info, nil)
				if err != nil {
					t.Errorf("%s: error %v, want a failed result", name, err)
				} else if res.OK || res.Reason == "" {
					t.Errorf("%s: %+v", name, res)
				}
			}
		})
	}
}

func TestCardErrorsAndBadKeys(t *testing.T) {
	t.Parallel()
	signer := RSASigner{Key: rsaKey(t, 1024), Hash: crypto.SHA1}
	spki, err := signer.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Authenticate(context.Background(), cardSender{sw: iso7816.SWSecurityNotSatisfied}, spki, nil, nil)
	if !iso7816.IsStatus(err, iso7816.SWSecurityNotSatisfied) {
		t.Errorf("card status 6982: %v", err)
	}
	bp256, _ := eccurve.ByParameterID(13)
	ec := ECDSASigner{Curve: bp256, D: []byte{42}, Hash: crypto.SHA256}
	ecSPKI, err := ec.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Authenticate(context.Background(), cardSender{signer: ec}, ecSPKI, nil, nil); err == nil {
		t.Error("ECDSA without ActiveAuthenticationInfo accepted")
	}
	ripemd := &securityinfo.ActiveAuthenticationInfo{Protocol: securityinfo.OIDAA, Version: 1, SignatureAlgorithm: append(append(asn1.ObjectIdentifier(nil), securityinfo.OIDECPlain...), 6)}
	if _, err := Authenticate(context.Background(), cardSender{signer: ec}, ecSPKI, ripemd, nil); err == nil {
		t.Error("RIPEMD-160 accepted")
	}
	if _, err := Authenticate(context.Background(), cardSender{signer: signer}, []byte{0x30, 0x00}, nil, nil); err == nil {
		t.Error("garbage DG15 accepted")
	}
	// crypto/rsa no longer generates keys this small, but a DG15 can hold one.
	smallN := new(big.Int).Lsh(big.NewInt(1), 511)
	smallSPKI, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: smallN.Add(smallN, big.NewInt(1)), E: 65537})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Authenticate(context.Background(), cardSender{signer: signer}, smallSPKI, nil, nil); err == nil {
		t.Error("512-bit RSA key accepted")
	}
}

// Cross-checks with crypto/ecdsa on P-256: its signatures verify here (DER form,
// which some ID cards send) and ours verify there.
func TestECDSAAgainstStandardLibrary(t *testing.T) {
	t.Parallel()
	p256, _ := eccurve.ByParameterID(12)
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pubBytes, err := priv.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	d, err := priv.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := p256.Unmarshal(pubBytes)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := securityinfo.EncodeECPublicKey(p256, pub)
	if err != nil {
		t.Fatal(err)
	}
	info := &securityinfo.ActiveAuthenticationInfo{Protocol: securityinfo.OIDAA, Version: 1, SignatureAlgorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}}
	challenge := []byte("12345678")
	digest := sha256.Sum256(challenge)
	der, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	if res, err := Verify(spki, info, challenge, der); err != nil || !res.OK {
		t.Errorf("crypto/ecdsa DER signature: %+v %v", res, err)
	}
	plain, err := ECDSASigner{Curve: p256, D: d, Hash: crypto.SHA256}.Sign(challenge)
	if err != nil {
		t.Fatal(err)
	}
	r, s := new(big.Int).SetBytes(plain[:32]), new(big.Int).SetBytes(plain[32:])
	asDER, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(&priv.PublicKey, digest[:], asDER) {
		t.Error("our signature does not verify with crypto/ecdsa")
	}
}

// ISO/IEC 9796-2 representatives built by hand: one per trailer, and broken ones.
func TestDecodeRepresentative(t *testing.T) {
	t.Parallel()
	m1 := bytes.Repeat([]byte{0x11}, 20)
	build := func(first byte, pad []byte, h crypto.Hash, trailer []byte) []byte {
		hh := h.New()
		hh.Write(m1)
		j := append([]byte{first}, pad...)
		j = append(j, m1...)
		j = hh.Sum(j)
		return append(j, trailer...)
	}
	tests := []struct {
		name string
		j    []byte
		hash crypto.Hash
		ok   bool
	}{
		{"SHA-1 BC", build(0x6A, nil, crypto.SHA1, []byte{0xBC}), crypto.SHA1, true},
		{"SHA-1 33CC", build(0x6A, nil, crypto.SHA1, []byte{0x33, 0xCC}), crypto.SHA1, true},
		{"SHA-224 38CC", build(0x6A, nil, crypto.SHA224, []byte{0x38, 0xCC}), crypto.SHA224, true},
		{"SHA-256 34CC", build(0x6A, nil, crypto.SHA256, []byte{0x34, 0xCC}), crypto.SHA256, true},
		{"SHA-384 36CC", build(0x6A, nil, crypto.SHA384, []byte{0x36, 0xCC}), crypto.SHA384, true},
		{"SHA-512 35CC", build(0x6A, nil, crypto.SHA512, []byte{0x35, 0xCC}), crypto.SHA512, true},
		{"padded", build(0x6B, []byte{0xBB, 0xBB, 0xBA}, crypto.SHA1, []byte{0xBC}), crypto.SHA1, true},
		{"unknown hash 37CC", build(0x6A, nil, crypto.SHA256, []byte{0x37, 0xCC}), 0, false},
		{"bad trailer", build(0x6A, nil, crypto.SHA1, []byte{0xBD}), 0, false},
		{"bad header", build(0xEA, nil, crypto.SHA1, []byte{0xBC}), 0, false},
		{"total recovery", build(0x4A, nil, crypto.SHA1, []byte{0xBC}), 0, false},
		{"bad padding", build(0x6B, []byte{0xBB, 0xBC}, crypto.SHA1, []byte{0xBC}), crypto.SHA1, false},
		{"too short", []byte{0x6A, 0x01, 0x34, 0xCC}, crypto.SHA256, false},
		{"one byte", []byte{0x6A}, 0, false},
	}
	for _, tc := range tests {
		gotM1, digest, h, reason := decodeRepresentative(tc.j)
		if (reason == "") != tc.ok || h != tc.hash {
			t.Errorf("%s: hash %v reason %q", tc.name, h, reason)
			continue
		}
		if tc.ok && (!bytes.Equal(gotM1, m1) || len(digest) != h.Size()) {
			t.Errorf("%s: M1 %X digest %X", tc.name, gotM1, digest)
		}
	}
}
