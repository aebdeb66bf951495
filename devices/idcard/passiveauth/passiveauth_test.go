package passiveauth

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard/lds"
	"github.com/vnkiosk/kiosk/devices/idcard/testpki"
)

var flavours = []testpki.Flavour{testpki.RSA, testpki.RSAPSS, testpki.ECDSABrainpool}

// RSA key generation dominates the test time, so every PKI is made once per test
// binary.
var fixture struct {
	once      sync.Once
	pki       map[testpki.Flavour]*testpki.PKI
	impostor  map[testpki.Flavour]*testpki.PKI
	expiredDS map[testpki.Flavour]testpki.Credential
	err       error
}

func pkis(t testing.TB) (pki, impostor map[testpki.Flavour]*testpki.PKI) {
	t.Helper()
	fixture.once.Do(func() {
		fixture.pki = map[testpki.Flavour]*testpki.PKI{}
		fixture.impostor = map[testpki.Flavour]*testpki.PKI{}
		fixture.expiredDS = map[testpki.Flavour]testpki.Credential{}
		for _, f := range flavours {
			p, err := testpki.New(f)
			if err != nil {
				fixture.err = err
				return
			}
			imp, err := p.Impostor()
			if err != nil {
				fixture.err = err
				return
			}
			exp, err := p.ExpiredDS(time.Now())
			if err != nil {
				fixture.err = err
				return
			}
			fixture.pki[f], fixture.impostor[f], fixture.expiredDS[f] = p, imp, exp
		}
	})
	if fixture.err != nil {
		t.Fatal(fixture.err)
	}
	return fixture.pki, fixture.impostor
}

// dataGroups returns real LDS files as a card would hold them.
func dataGroups(t testing.TB) map[int][]byte {
	t.Helper()
	mrz := "I<UTOD231458907<<<<<<<<<<<<<<<7408122F1204159UTO<<<<<<<<<<<6ERIKSSON<<ANNA<MARIA<<<<<<<<<<"
	dg1, err := lds.EncodeDG1(mrz)
	if err != nil {
		t.Fatal(err)
	}
	jpeg := []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F', 0, 0xFF, 0xD9}
	dg2, err := lds.EncodeDG2(lds.Face{Image: jpeg, Width: 1, Height: 1, ImageType: 1, ColourSpace: 1})
	if err != nil {
		t.Fatal(err)
	}
	name := "Nguyễn Văn An"
	dg13, err := lds.EncodeDG13(&lds.DG13{FullName: &name, DateOfExpiry: &lds.Expiry{None: true}})
	if err != nil {
		t.Fatal(err)
	}
	dg14, err := lds.EncodeDG14([]byte{0x31, 0x03, 0x02, 0x01, 0x01})
	if err != nil {
		t.Fatal(err)
	}
	return map[int][]byte{1: dg1, 2: dg2, 13: dg13, 14: dg14}
}

func storeOf(p *testpki.PKI, crls ...[]byte) (*TrustStore, error) {
	csca, err := ParseCertificate(p.CSCA.Certificate)
	if err != nil {
		return nil, err
	}
	var parsed []*CRL
	for _, b := range crls {
		c, err := ParseCRL(b)
		if err != nil {
			return nil, err
		}
		parsed = append(parsed, c)
	}
	return NewTrustStore([]*Certificate{csca}, parsed), nil
}

func allOK(dgs map[int][]byte) map[int]string {
	out := map[int]string{}
	for n := range dgs {
		out[n] = DataGroupOK
	}
	return out
}

func wantAlgorithm(f testpki.Flavour) string {
	switch f {
	case testpki.RSA:
		return "sha256WithRSAEncryption"
	case testpki.RSAPSS:
		return "rsassa-pss SHA-256"
	}
	return "ecdsa-with-SHA256 brainpoolP256r1"
}

func TestVerifyStates(t *testing.T) {
	t.Parallel()
	pki, impostor := pkis(t)
	dgs := dataGroups(t)
	now := time.Now()
	for _, f := range flavours {
		p, imp := pki[f], impostor[f]
		other := pki[flavours[(slicesIndex(flavours, f)+1)%len(flavours)]]
		sign := func(ds testpki.Credential, groups map[int][]byte, opts ...testpki.SODOption) []byte {
			t.Helper()
			sod, err := testpki.SignSOD(groups, crypto.SHA256, ds, opts...)
			if err != nil {
				t.Fatal(err)
			}
			return sod
		}
		store := func(q *testpki.PKI, crls ...[]byte) *TrustStore {
			t.Helper()
			ts, err := storeOf(q, crls...)
			if err != nil {
				t.Fatal(err)
			}
			return ts
		}
		revocation, err := p.RevokeDS()
		if err != nil {
			t.Fatal(err)
		}
		forgedRevocation, err := imp.RevokeDS() // names the same CSCA, signed by the impostor
		if err != nil {
			t.Fatal(err)
		}
		goodSOD := sign(p.DS, dgs)
		futureDS, err := p.IssueDS(p.DS.Key, now.AddDate(0, 0, 1), now.AddDate(1, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		tamperedDGs := map[int][]byte{}
		for n, b := range dgs {
			tamperedDGs[n] = b
		}
		tamperedDGs[13] = append(bytes.Clone(dgs[13][:len(dgs[13])-1]), dgs[13][len(dgs[13])-1]^1)
		wrongKey := p.DS
		wrongKey.Key = imp.CSCA.Key // the DS certificate with someone else's key
		lastByteFlipped := bytes.Clone(goodSOD)
		lastByteFlipped[len(lastByteFlipped)-1] ^= 0x01
		// The DG13 hash sits inside the signed LDSSecurityObject: changing it
		// there breaks messageDigest rather than the DG comparison.
		h := sha256.Sum256(dgs[13])
		hashInSOD := bytes.Clone(goodSOD)
		i := bytes.Index(hashInSOD, h[:])
		if i < 0 {
			t.Fatal("DG13 hash not found in SOD")
		}
		hashInSOD[i] ^= 0x80

		tests := []struct {
			name       string
			sod        []byte
			read       map[int][]byte
			ts         *TrustStore
			now        time.Time
			status     string
			reason     string
			dataGroups map[int]string
		}{
			{"valid", goodSOD, dgs, store(p, p.CRL), now, StatusValid, "", allOK(dgs)},
			{"valid by subject key id", sign(p.DS, dgs, testpki.WithSubjectKeyID()), dgs, store(p), now, StatusValid, "", allOK(dgs)},
			{"valid, DG in SOD not read", goodSOD, map[int][]byte{1: dgs[1]}, store(p), now, StatusValid, "", map[int]string{1: DataGroupOK}},
			{"valid, forged CRL ignored", goodSOD, dgs, store(p, forgedRevocation), now, StatusValid, "", allOK(dgs)},
			{"absent", nil, dgs, store(p), now, StatusAbsent, "no SOD", nil},
			{"unknown CSCA, empty store", goodSOD, dgs, NewTrustStore(nil, nil), now, StatusUnknownCSCA, "no CSCA", allOK(dgs)},
			{"unknown CSCA, nil store", goodSOD, dgs, nil, now, StatusUnknownCSCA, "no CSCA", allOK(dgs)},
			{"unknown CSCA, other issuer", goodSOD, dgs, store(other), now, StatusUnknownCSCA, "no CSCA", allOK(dgs)},
			{"impostor CSCA", sign(imp.DS, dgs), dgs, store(p), now, StatusUntrustedChain, "does not verify", allOK(dgs)},
			{"expired DS", sign(fixture.expiredDS[f], dgs), dgs, store(p), now, StatusUntrustedChain, "expired", allOK(dgs)},
			{"DS expired by clock", goodSOD, dgs, store(p), now.AddDate(11, 0, 0), StatusUntrustedChain, "expired", allOK(dgs)},
			{"DS not yet valid", sign(futureDS, dgs), dgs, store(p), now, StatusUntrustedChain, "not yet valid", allOK(dgs)},
			{"before CSCA validity", goodSOD, dgs, store(p), now.AddDate(0, 0, -2), StatusUntrustedChain, "CSCA certificate is outside", allOK(dgs)},
			{"CSCA expired", goodSOD, dgs, store(p), now.AddDate(21, 0, 0), StatusUntrustedChain, "CSCA certificate is outside", allOK(dgs)},
			{"revoked", goodSOD, dgs, store(p, p.CRL, revocation), now, StatusUntrustedChain, "revoked", allOK(dgs)},
			{"tampered DG", goodSOD, tamperedDGs, store(p), now, StatusInvalid, "hash mismatch for DG13",
				map[int]string{1: DataGroupOK, 2: DataGroupOK, 13: DataGroupMismatch, 14: DataGroupOK}},
			{"DG read but not in SOD", sign(p.DS, map[int][]byte{1: dgs[1], 2: dgs[2]}), dgs, store(p), now, StatusInvalid, "DG13, DG14",
				map[int]string{1: DataGroupOK, 2: DataGroupOK, 13: DataGroupMismatch, 14: DataGroupMismatch}},
			{"wrong signing key", sign(wrongKey, dgs), dgs, store(p), now, StatusInvalid, "signature over the SOD does not verify", allOK(dgs)},
			{"signature byte flipped", lastByteFlipped, dgs, store(p), now, StatusInvalid, "signature over the SOD does not verify", allOK(dgs)},
			{"LDS hash changed", hashInSOD, dgs, store(p), now, StatusInvalid, "messageDigest", nil},
			{"truncated SOD", goodSOD[:len(goodSOD)/2], dgs, store(p), now, StatusInvalid, "parse SOD", nil},
			{"not a SOD", dgs[1], dgs, store(p), now, StatusInvalid, "parse SOD", nil},
		}
		for _, tt := range tests {
			t.Run(string(f)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				res := Verify(tt.sod, tt.read, tt.ts, tt.now)
				if res.Status != tt.status {
					t.Fatalf("Status = %q (%s), want %q", res.Status, res.Reason, tt.status)
				}
				if !strings.Contains(res.Reason, tt.reason) {
					t.Errorf("Reason = %q, want it to mention %q", res.Reason, tt.reason)
				}
				if tt.dataGroups != nil && !reflect.DeepEqual(res.DataGroups, tt.dataGroups) {
					t.Errorf("DataGroups = %v, want %v", res.DataGroups, tt.dataGroups)
				}
				if tt.status == StatusAbsent {
					if res.SODHash != "" {
						t.Error("SODHash set without a SOD")
					}
					return
				}
				sum := sha256.Sum256(tt.sod)
				if res.SODHash != hex.EncodeToString(sum[:]) {
					t.Errorf("SODHash = %s", res.SODHash)
				}
				if tt.status != StatusInvalid || tt.name == "tampered DG" || tt.name == "wrong signing key" {
					if res.SignatureAlgorithm != wantAlgorithm(f) {
						t.Errorf("SignatureAlgorithm = %q, want %q", res.SignatureAlgorithm, wantAlgorithm(f))
					}
				}
				if strings.Contains(res.Reason, "Nguy") || strings.Contains(res.Reason, "ERIKSSON") {
					t.Errorf("Reason carries card data: %q", res.Reason)
				}
			})
		}
	}
}

func slicesIndex(fs []testpki.Flavour, f testpki.Flavour) int {
	for i, g := range fs {
		if g == f {
			return i
		}
	}
	return -1
}

func TestVerifyHashes(t *testing.T) {
	t.Parallel()
	pki, _ := pkis(t)
	dgs := dataGroups(t)
	tests := []struct {
		flavour testpki.Flavour
		hash    crypto.Hash
		alg     string
	}{
		{testpki.ECDSABrainpool, crypto.SHA1, "ecdsa-with-SHA1 brainpoolP256r1"},
		{testpki.ECDSABrainpool, crypto.SHA224, "ecdsa-with-SHA224 brainpoolP256r1"},
		{testpki.ECDSABrainpool, crypto.SHA384, "ecdsa-with-SHA384 brainpoolP256r1"},
		{testpki.ECDSABrainpool, crypto.SHA512, "ecdsa-with-SHA512 brainpoolP256r1"},
		{testpki.RSA, crypto.SHA1, "sha1WithRSAEncryption"},
		{testpki.RSA, crypto.SHA512, "sha512WithRSAEncryption"},
		{testpki.RSAPSS, crypto.SHA384, "rsassa-pss SHA-384"},
		{testpki.RSAPSS, crypto.SHA512, "rsassa-pss SHA-512"},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			t.Parallel()
			p := pki[tt.flavour]
			sod, err := p.SignSOD(dgs, tt.hash)
			if err != nil {
				t.Fatal(err)
			}
			ts, err := storeOf(p)
			if err != nil {
				t.Fatal(err)
			}
			res := Verify(sod, dgs, ts, time.Now())
			if res.Status != StatusValid || res.SignatureAlgorithm != tt.alg {
				t.Fatalf("Verify = %s %q (%s), want valid %q", res.Status, res.SignatureAlgorithm, res.Reason, tt.alg)
			}
			s, err := ParseSOD(sod)
			if err != nil {
				t.Fatal(err)
			}
			if s.HashAlgorithm != tt.hash || len(s.DataGroupHashes) != len(dgs) {
				t.Errorf("ParseSOD: hash %v, %d data groups", s.HashAlgorithm, len(s.DataGroupHashes))
			}
		})
	}
}

func TestLoadTrustStore(t *testing.T) {
	t.Parallel()
	pki, _ := pkis(t)
	dgs := dataGroups(t)
	p := pki[testpki.ECDSABrainpool]
	sod, err := p.SignSOD(dgs, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	revocation, err := p.RevokeDS()
	if err != nil {
		t.Fatal(err)
	}

	// A test PKI directory as written: csca.pem, the DS certificate (not a CA),
	// private keys (ignored) and an empty CRL.
	pkiDir := t.TempDir()
	if err := p.Write(pkiDir); err != nil {
		t.Fatal(err)
	}
	// DER files with the other extensions, and a revoking CRL in DER.
	derDir := t.TempDir()
	writes := map[string][]byte{"csca.cer": p.CSCA.Certificate, "ds.der": p.DS.Certificate, "csca.crl": revocation, "notes.txt": []byte("ignored")}
	for name, b := range writes {
		if err := os.WriteFile(filepath.Join(derDir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	emptyDir := t.TempDir()
	badDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(badDir, "broken.pem"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badCRLDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(badCRLDir, "x.crl"), []byte{0x30, 0x03, 0x02, 0x01, 0x01}, 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		dir    string
		status string
		cscas  int
	}{
		{pkiDir, StatusValid, 2},
		{derDir, StatusUntrustedChain, 2},
		{emptyDir, StatusUnknownCSCA, 0},
	}
	for _, tt := range tests {
		ts, err := LoadTrustStore(tt.dir)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(ts.CSCAs()); n != tt.cscas {
			t.Errorf("%d certificates loaded, want %d", n, tt.cscas)
		}
		if res := Verify(sod, dgs, ts, time.Now()); res.Status != tt.status {
			t.Errorf("Verify = %s (%s), want %s", res.Status, res.Reason, tt.status)
		}
	}
	for _, dir := range []string{badDir, badCRLDir, filepath.Join(emptyDir, "missing")} {
		if _, err := LoadTrustStore(dir); err == nil {
			t.Errorf("LoadTrustStore(%s) succeeded", dir)
		}
	}
}

func TestCertificateRoles(t *testing.T) {
	t.Parallel()
	pki, _ := pkis(t)
	for _, f := range flavours {
		csca, err := ParseCertificate(pki[f].CSCA.Certificate)
		if err != nil {
			t.Fatal(err)
		}
		ds, err := ParseCertificate(pki[f].DS.Certificate)
		if err != nil {
			t.Fatal(err)
		}
		if !csca.canSignCertificates() || !csca.IsCA || !csca.HasBasicConstraints {
			t.Errorf("%s: CSCA not recognised as a CA", f)
		}
		// A Document Signer has no keyCertSign: it can never anchor a chain.
		if ds.canSignCertificates() {
			t.Errorf("%s: Document Signer accepted as a CA", f)
		}
		if !bytes.Equal(ds.RawIssuer, csca.RawSubject) || !bytes.Equal(ds.AuthorityKeyID, csca.SubjectKeyID) || len(csca.SubjectKeyID) != 20 {
			t.Errorf("%s: DS issuer or key identifiers do not link to the CSCA", f)
		}
		if ds.UnhandledCritical || csca.UnhandledCritical {
			t.Errorf("%s: critical extensions not understood", f)
		}
	}
}
