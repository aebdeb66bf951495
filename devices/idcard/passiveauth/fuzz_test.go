package passiveauth

import (
	"crypto"
	"testing"
	"time"
)

// FuzzParseSOD feeds hostile EF.SOD files through parsing and the whole
// verification: neither may panic, and a parsable SOD is never reported absent.
func FuzzParseSOD(f *testing.F) {
	pki, _ := pkis(f)
	dgs := dataGroups(f)
	stores := map[string]*TrustStore{}
	for _, fl := range flavours {
		for _, opts := range [][]any{nil, {true}} {
			var sod []byte
			var err error
			if opts == nil {
				sod, err = pki[fl].SignSOD(dgs, crypto.SHA256)
			} else {
				sod, err = pki[fl].SignSOD(dgs, crypto.SHA1)
			}
			if err != nil {
				f.Fatal(err)
			}
			f.Add(sod)
		}
		ts, err := storeOf(pki[fl], pki[fl].CRL)
		if err != nil {
			f.Fatal(err)
		}
		stores[string(fl)] = ts
	}
	f.Add([]byte{0x77, 0x00})
	now := time.Now()
	f.Fuzz(func(t *testing.T, b []byte) {
		_, parseErr := ParseSOD(b)
		for _, ts := range stores {
			res := Verify(b, dgs, ts, now)
			if parseErr == nil && (res.Status == StatusAbsent || res.SODHash == "") {
				t.Fatalf("parsable SOD reported %q", res.Status)
			}
			if parseErr != nil && len(b) > 0 && res.Status != StatusInvalid {
				t.Fatalf("unparsable SOD reported %q", res.Status)
			}
		}
	})
}

// FuzzParseCertificate covers the certificate parser on its own: the Document
// Signer certificate comes from the card.
func FuzzParseCertificate(f *testing.F) {
	pki, _ := pkis(f)
	for _, fl := range flavours {
		f.Add(pki[fl].CSCA.Certificate)
		f.Add(pki[fl].DS.Certificate)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCertificate(b)
		if err != nil {
			return
		}
		if c.PublicKey == nil || c.SerialNumber == nil {
			t.Fatal("parsed certificate without key or serial")
		}
		// Self-verification must not panic whatever the key and algorithm.
		_ = c.checkSignatureFrom(c)
	})
}
