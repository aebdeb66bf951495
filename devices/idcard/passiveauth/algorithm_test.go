package passiveauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"

	"github.com/vnkiosk/kiosk/devices/idcard/eccurve"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseScheme(t *testing.T) {
	t.Parallel()
	raw := func(b []byte) asn1.RawValue { return asn1.RawValue{FullBytes: b} }
	null := raw([]byte{5, 0})
	sha256Null := "300d 0609 608648016503040201 0500"
	tests := []struct {
		name   string
		ai     pkix.AlgorithmIdentifier
		digest crypto.Hash
		want   scheme
		ok     bool
	}{
		{"sha256WithRSA", pkix.AlgorithmIdentifier{Algorithm: oidSHA256RSA, Parameters: null}, 0, scheme{kind: schemeRSAPKCS1, hash: crypto.SHA256}, true},
		{"sha1WithRSA, absent params", pkix.AlgorithmIdentifier{Algorithm: oidSHA1RSA}, 0, scheme{kind: schemeRSAPKCS1, hash: crypto.SHA1}, true},
		{"RSA with bogus params", pkix.AlgorithmIdentifier{Algorithm: oidSHA256RSA, Parameters: raw([]byte{2, 1, 1})}, 0, scheme{}, false},
		{"rsaEncryption takes the digest", pkix.AlgorithmIdentifier{Algorithm: oidRSAEncryption, Parameters: null}, crypto.SHA384, scheme{kind: schemeRSAPKCS1, hash: crypto.SHA384}, true},
		{"rsaEncryption needs a digest", pkix.AlgorithmIdentifier{Algorithm: oidRSAEncryption, Parameters: null}, 0, scheme{}, false},
		{"id-ecPublicKey takes the digest", pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey}, crypto.SHA224, scheme{kind: schemeECDSA, hash: crypto.SHA224}, true},
		{"ecdsa-with-SHA512", pkix.AlgorithmIdentifier{Algorithm: oidSHA512ECDSA}, crypto.SHA1, scheme{kind: schemeECDSA, hash: crypto.SHA512}, true},
		{"ECDSA with params", pkix.AlgorithmIdentifier{Algorithm: oidSHA256ECDSA, Parameters: null}, 0, scheme{}, false},
		{"ecdsa-plain-SHA384", pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 1, 1, 4, 1, 4}}, 0, scheme{kind: schemeECDSAPlain, hash: crypto.SHA384}, true},
		{"ecdsa-plain unknown", pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 1, 1, 4, 1, 9}}, 0, scheme{}, false},
		{"PSS defaults", pkix.AlgorithmIdentifier{Algorithm: oidRSASSAPSS, Parameters: raw([]byte{0x30, 0})}, 0, scheme{kind: schemeRSAPSS, hash: crypto.SHA1, saltLen: 20}, true},
		{"PSS SHA-256 salt 32", pkix.AlgorithmIdentifier{Algorithm: oidRSASSAPSS, Parameters: raw(mustHex(t,
			"3034 a00f"+sha256Null+" a11c 301a 0609 2a864886f70d010108"+sha256Null+" a203 020120"))}, 0,
			scheme{kind: schemeRSAPSS, hash: crypto.SHA256, saltLen: 32}, true},
		{"PSS MGF1-SHA1 with SHA-256", pkix.AlgorithmIdentifier{Algorithm: oidRSASSAPSS, Parameters: raw(mustHex(t,
			"3011 a00f"+sha256Null))}, 0, scheme{}, false},
		{"PSS trailer 2", pkix.AlgorithmIdentifier{Algorithm: oidRSASSAPSS, Parameters: raw(mustHex(t, "3005 a303 020102"))}, 0, scheme{}, false},
		{"PSS without params", pkix.AlgorithmIdentifier{Algorithm: oidRSASSAPSS}, 0, scheme{}, false},
		{"DSA", pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 3}}, 0, scheme{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseScheme(tt.ai, tt.digest)
			if tt.ok != (err == nil) {
				t.Fatalf("parseScheme error = %v, want success %v", err, tt.ok)
			}
			if tt.ok && got != tt.want {
				t.Errorf("parseScheme = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSchemeVerify(t *testing.T) {
	t.Parallel()
	bp, err := eccurve.ByParameterID(13)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(bp.Curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024+512)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("signed attributes")
	digest := sha256.Sum256(msg)
	r, s, err := ecdsa.Sign(rand.Reader, ecKey, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	plain := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	der, err := ecdsa.SignASN1(rand.Reader, p256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	pss, err := rsa.SignPSS(rand.Reader, rsaKey, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: 17})
	if err != nil {
		t.Fatal(err)
	}
	pkcs1, err := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		s    scheme
		pub  crypto.PublicKey
		sig  []byte
		ok   bool
		alg  string
	}{
		{"plain ECDSA brainpool", scheme{kind: schemeECDSAPlain, hash: crypto.SHA256}, &ecKey.PublicKey, plain, true, "ecdsa-plain-SHA256 brainpoolP256r1"},
		{"plain ECDSA short", scheme{kind: schemeECDSAPlain, hash: crypto.SHA256}, &ecKey.PublicKey, plain[:63], false, ""},
		{"plain ECDSA other key", scheme{kind: schemeECDSAPlain, hash: crypto.SHA256}, &p256.PublicKey, plain, false, ""},
		{"ECDSA P-256", scheme{kind: schemeECDSA, hash: crypto.SHA256}, &p256.PublicKey, der, true, "ecdsa-with-SHA256 P-256"},
		{"ECDSA key mismatch", scheme{kind: schemeECDSA, hash: crypto.SHA256}, &rsaKey.PublicKey, der, false, ""},
		{"PSS salt 17", scheme{kind: schemeRSAPSS, hash: crypto.SHA256, saltLen: 17}, &rsaKey.PublicKey, pss, true, "rsassa-pss SHA-256"},
		{"PSS wrong salt", scheme{kind: schemeRSAPSS, hash: crypto.SHA256, saltLen: 32}, &rsaKey.PublicKey, pss, false, ""},
		{"PKCS1 as PSS", scheme{kind: schemeRSAPSS, hash: crypto.SHA256, saltLen: 17}, &rsaKey.PublicKey, pkcs1, false, ""},
		{"PKCS1", scheme{kind: schemeRSAPKCS1, hash: crypto.SHA256}, &rsaKey.PublicKey, pkcs1, true, "sha256WithRSAEncryption"},
		{"RSA key mismatch", scheme{kind: schemeRSAPKCS1, hash: crypto.SHA256}, &p256.PublicKey, pkcs1, false, ""},
	}
	for _, tt := range tests {
		err := tt.s.verify(tt.pub, msg, tt.sig)
		if (err == nil) != tt.ok {
			t.Errorf("%s: verify = %v, want success %v", tt.name, err, tt.ok)
		}
		if tt.ok && tt.s.name(tt.pub) != tt.alg {
			t.Errorf("%s: name = %q, want %q", tt.name, tt.s.name(tt.pub), tt.alg)
		}
	}
}

// explicitParams encodes SEC 1 ECParameters with the given values.
func explicitParams(t *testing.T, p, a, b, n *big.Int, base []byte) []byte {
	t.Helper()
	size := (p.BitLen() + 7) / 8
	var ep ecParametersASN1
	ep.Version = 1
	ep.FieldID.FieldType = oidPrimeField
	ep.FieldID.Prime = p
	ep.Curve.A = a.FillBytes(make([]byte, size))
	ep.Curve.B = b.FillBytes(make([]byte, size))
	ep.Base = base
	ep.Order = n
	ep.Cofactor = big.NewInt(1)
	out, err := asn1.Marshal(ep)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestExplicitCurveParameters(t *testing.T) {
	t.Parallel()
	hexInt := func(s string) *big.Int {
		v, ok := new(big.Int).SetString(s, 16)
		if !ok {
			t.Fatal("bad constant")
		}
		return v
	}
	bp, _ := eccurve.ByParameterID(13)
	nist, _ := eccurve.ByParameterID(12)
	// brainpoolP256r1 coefficients from RFC 5639 §3.4; P-256 has a = p - 3.
	bpA := hexInt("7D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9")
	bpB := hexInt("26DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B6")
	np := nist.Params()
	nistA := new(big.Int).Sub(np.P, big.NewInt(3))
	bpP, bpN := bp.Params().P, bp.Params().N
	bpG := bp.Marshal(bp.Generator())
	otherG := bp.Marshal(bp.ScalarBaseMult([]byte{2}))
	tests := []struct {
		name   string
		params []byte
		want   *eccurve.Curve
	}{
		{"brainpoolP256r1", explicitParams(t, bpP, bpA, bpB, bpN, bpG), bp},
		{"P-256", explicitParams(t, np.P, nistA, np.B, np.N, nist.Marshal(nist.Generator())), nist},
		{"other generator", explicitParams(t, bpP, bpA, bpB, bpN, otherG), nil},
		{"other order", explicitParams(t, bpP, bpA, bpB, new(big.Int).Add(bpN, big.NewInt(2)), bpG), nil},
		{"compressed base", explicitParams(t, bpP, bpA, bpB, bpN, append([]byte{2}, bpG[1:33]...)), nil},
		{"unknown OID", []byte{0x06, 0x03, 0x2A, 0x03, 0x04}, nil},
		{"garbage", []byte{0x02, 0x01, 0x01}, nil},
	}
	for _, tt := range tests {
		got, err := parseCurve(asn1.RawValue{FullBytes: tt.params})
		if (err == nil) != (tt.want != nil) {
			t.Errorf("%s: parseCurve error %v", tt.name, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s: parseCurve = %v, want %v", tt.name, got, tt.want)
		}
	}
}
