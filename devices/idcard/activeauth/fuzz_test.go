package activeauth

import (
	"bytes"
	"crypto"
	"testing"

	"github.com/vnkiosk/kiosk/devices/idcard/eccurve"
	"github.com/vnkiosk/kiosk/devices/idcard/securityinfo"
)

// FuzzVerify feeds hostile signatures (the card's answer) to both verifiers and
// hostile DG15 keys to the key parser: nothing may panic, and a mutated genuine
// RSA signature must not verify.
func FuzzVerify(f *testing.F) {
	spki := realSPKI(f)
	sig := unhex(f, realSignature)
	challenge := unhex(f, realChallenge)
	bp256, _ := eccurve.ByParameterID(13)
	ec := ECDSASigner{Curve: bp256, D: []byte{5}, Hash: crypto.SHA256}
	ecSPKI, err := ec.PublicKey()
	if err != nil {
		f.Fatal(err)
	}
	ecSig, err := ec.Sign(challenge)
	if err != nil {
		f.Fatal(err)
	}
	alg, _ := PlainSignatureAlgorithm(crypto.SHA256)
	info := &securityinfo.ActiveAuthenticationInfo{Protocol: securityinfo.OIDAA, Version: 1, SignatureAlgorithm: alg}
	f.Add(sig, ecSig, spki)
	f.Add([]byte{}, []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}, ecSPKI)
	f.Fuzz(func(t *testing.T, rsaSig, ecdsaSig, key []byte) {
		res, err := Verify(spki, nil, challenge, rsaSig)
		if err != nil {
			t.Fatalf("RSA verify error on card data: %v", err)
		}
		if res.OK && !bytes.Equal(bytes.TrimLeft(rsaSig, "\x00"), bytes.TrimLeft(sig, "\x00")) {
			t.Fatalf("a different RSA signature verified: %X", rsaSig)
		}
		if _, err := Verify(ecSPKI, info, challenge, ecdsaSig); err != nil {
			t.Fatalf("ECDSA verify error on card data: %v", err)
		}
		_, _ = Verify(key, info, challenge, ecdsaSig)
		_, _, _, _ = decodeRepresentative(rsaSig)
	})
}
