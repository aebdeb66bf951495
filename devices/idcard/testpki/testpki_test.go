package testpki

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"
	"github.com/vnkiosk/kiosk/devices/idcard/lds"
)

var flavours = []Flavour{RSA, RSAPSS, ECDSABrainpool}

// Key generation dominates; every PKI is made once per test binary.
var fixture struct {
	once     sync.Once
	pki      map[Flavour]*PKI
	impostor map[Flavour]*PKI
	err      error
}

func pkis(t *testing.T) (map[Flavour]*PKI, map[Flavour]*PKI) {
	t.Helper()
	fixture.once.Do(func() {
		fixture.pki, fixture.impostor = map[Flavour]*PKI{}, map[Flavour]*PKI{}
		for _, f := range flavours {
			p, err := New(f)
			if err != nil {
				fixture.err = err
				return
			}
			imp, err := p.Impostor()
			if err != nil {
				fixture.err = err
				return
			}
			fixture.pki[f], fixture.impostor[f] = p, imp
		}
	})
	if fixture.err != nil {
		t.Fatal(fixture.err)
	}
	return fixture.pki, fixture.impostor
}

var dataGroups = map[int][]byte{1: []byte("DG1 bytes"), 2: []byte("DG2 bytes"), 13: []byte("DG13 bytes")}

func TestGenerateLoad(t *testing.T) {
	t.Parallel()
	pki, _ := pkis(t)
	for _, f := range flavours {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "pki")
			if err := pki[f].Write(dir); err != nil {
				t.Fatal(err)
			}
			for name, mode := range map[string]os.FileMode{FileCSCA: 0o644, FileDS: 0o644, FileCRL: 0o644, FileCSCAKey: 0o600, FileDSKey: 0o600} {
				st, err := os.Stat(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != mode {
					t.Errorf("%s has mode %v, want %v", name, st.Mode().Perm(), mode)
				}
			}
			got, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			want := pki[f]
			if got.Flavour != f || got.CSCA.PSS != (f == RSAPSS) || got.DS.PSS != (f == RSAPSS) {
				t.Errorf("Load: flavour %q, PSS %v/%v", got.Flavour, got.CSCA.PSS, got.DS.PSS)
			}
			if !bytes.Equal(got.CSCA.Certificate, want.CSCA.Certificate) || !bytes.Equal(got.DS.Certificate, want.DS.Certificate) ||
				!bytes.Equal(got.CRL, want.CRL) {
				t.Error("Load returned different certificates or CRL")
			}
			type equaler interface{ Equal(crypto.PrivateKey) bool }
			if !got.CSCA.Key.(equaler).Equal(want.CSCA.Key) || !got.DS.Key.(equaler).Equal(want.DS.Key) {
				t.Error("Load returned different keys")
			}
			// The reloaded PKI keeps working: it issues and revokes.
			if _, err := got.RevokeDS(); err != nil {
				t.Error(err)
			}
			if _, err := got.SignSOD(dataGroups, crypto.SHA256); err != nil {
				t.Error(err)
			}
		})
	}
	if _, err := Load(t.TempDir()); err == nil {
		t.Error("Load of an empty directory succeeded")
	}
	// Generate writes the same layout in one step.
	dir := t.TempDir()
	if _, err := Generate(dir, ECDSABrainpool); err != nil {
		t.Fatal(err)
	}
	if p, err := Load(dir); err != nil || p.Flavour != ECDSABrainpool {
		t.Errorf("Load after Generate: %v", err)
	}
	if _, err := New("dsa"); err == nil {
		t.Error("New accepted an unknown flavour")
	}
}

// The RSA flavours are checked with crypto/x509 and smallstep/pkcs7, which share
// no code with the builders here.
func TestRSAWithStandardLibrary(t *testing.T) {
	t.Parallel()
	pki, impostor := pkis(t)
	for _, f := range []Flavour{RSA, RSAPSS} {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			p := pki[f]
			csca, err := x509.ParseCertificate(p.CSCA.Certificate)
			if err != nil {
				t.Fatal(err)
			}
			ds, err := x509.ParseCertificate(p.DS.Certificate)
			if err != nil {
				t.Fatal(err)
			}
			wantAlg := x509.SHA256WithRSA
			if f == RSAPSS {
				wantAlg = x509.SHA256WithRSAPSS
			}
			if csca.SignatureAlgorithm != wantAlg || ds.SignatureAlgorithm != wantAlg {
				t.Errorf("signature algorithms %v / %v, want %v", csca.SignatureAlgorithm, ds.SignatureAlgorithm, wantAlg)
			}
			if err := csca.CheckSignatureFrom(csca); err != nil {
				t.Errorf("CSCA self-signature: %v", err)
			}
			if err := ds.CheckSignatureFrom(csca); err != nil {
				t.Errorf("DS signature: %v", err)
			}
			if !csca.IsCA || !csca.BasicConstraintsValid || csca.MaxPathLen != 0 || !csca.MaxPathLenZero ||
				csca.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
				t.Errorf("CSCA constraints: CA %v, path %d, usage %v", csca.IsCA, csca.MaxPathLen, csca.KeyUsage)
			}
			if ds.IsCA || ds.KeyUsage != x509.KeyUsageDigitalSignature {
				t.Errorf("DS constraints: CA %v, usage %v", ds.IsCA, ds.KeyUsage)
			}
			if !bytes.Equal(ds.AuthorityKeyId, csca.SubjectKeyId) || !bytes.Equal(csca.AuthorityKeyId, csca.SubjectKeyId) {
				t.Error("key identifiers do not link")
			}
			if !strings.Contains(csca.Subject.CommonName, "NOT FOR PRODUCTION") || ds.Issuer.String() != csca.Subject.String() {
				t.Errorf("names: %q issued by %q", ds.Subject, ds.Issuer)
			}
			now := time.Now()
			if now.Before(ds.NotBefore) || now.After(ds.NotAfter) || ds.NotAfter.After(csca.NotAfter) {
				t.Error("validity periods wrong")
			}

			imp, err := x509.ParseCertificate(impostor[f].DS.Certificate)
			if err != nil {
				t.Fatal(err)
			}
			if imp.Issuer.String() != csca.Subject.String() || imp.CheckSignatureFrom(csca) == nil {
				t.Error("impostor DS must carry the CSCA's name and fail its signature")
			}
			expired, err := p.ExpiredDS(now)
			if err != nil {
				t.Fatal(err)
			}
			exp, err := x509.ParseCertificate(expired.Certificate)
			if err != nil {
				t.Fatal(err)
			}
			if !exp.NotAfter.Before(now) || exp.CheckSignatureFrom(csca) != nil {
				t.Error("expired DS must be expired and properly signed")
			}

			revocation, err := p.RevokeDS()
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				der     []byte
				revoked bool
			}{{p.CRL, false}, {revocation, true}} {
				crl, err := x509.ParseRevocationList(c.der)
				if err != nil {
					t.Fatal(err)
				}
				if err := crl.CheckSignatureFrom(csca); err != nil {
					t.Errorf("CRL signature: %v", err)
				}
				listed := len(crl.RevokedCertificateEntries) == 1 && crl.RevokedCertificateEntries[0].SerialNumber.Cmp(ds.SerialNumber) == 0
				if listed != c.revoked || (!c.revoked && len(crl.RevokedCertificateEntries) != 0) {
					t.Errorf("CRL lists %d entries, revoked %v", len(crl.RevokedCertificateEntries), c.revoked)
				}
			}
		})
	}
}

func TestSignSODWithPKCS7(t *testing.T) {
	t.Parallel()
	pki, _ := pkis(t)
	p := pki[RSA]
	for _, hash := range []crypto.Hash{crypto.SHA256, crypto.SHA512} {
		sod, err := p.SignSOD(dataGroups, hash)
		if err != nil {
			t.Fatal(err)
		}
		ci, err := lds.ParseSOD(sod)
		if err != nil {
			t.Fatal(err)
		}
		p7, err := pkcs7.Parse(ci)
		if err != nil {
			t.Fatal(err)
		}
		if err := p7.Verify(); err != nil {
			t.Fatalf("pkcs7 verify (%v): %v", hash, err)
		}
		if len(p7.Certificates) != 1 || !bytes.Equal(p7.Certificates[0].Raw, p.DS.Certificate) {
			t.Error("SOD does not carry exactly the DS certificate")
		}
		checkLDSObject(t, p7.Content, hash)
	}
}

// checkLDSObject decodes an LDSSecurityObject independently of the builder.
func checkLDSObject(t *testing.T, der []byte, hash crypto.Hash) {
	t.Helper()
	var lso struct {
		Version int
		HashAlg pkix.AlgorithmIdentifier
		Hashes  []struct {
			Number int
			Hash   []byte
		}
	}
	if rest, err := asn1.Unmarshal(der, &lso); err != nil || len(rest) != 0 {
		t.Fatalf("LDSSecurityObject: %v", err)
	}
	if lso.Version != 0 || !lso.HashAlg.Algorithm.Equal(hashOIDs[hash]) || len(lso.Hashes) != len(dataGroups) {
		t.Fatalf("LDSSecurityObject version %d, algorithm %v, %d hashes", lso.Version, lso.HashAlg.Algorithm, len(lso.Hashes))
	}
	prev := 0
	for _, h := range lso.Hashes {
		d := hash.New()
		d.Write(dataGroups[h.Number])
		if h.Number <= prev || !bytes.Equal(d.Sum(nil), h.Hash) {
			t.Errorf("hash of DG%d wrong or out of order", h.Number)
		}
		prev = h.Number
	}
}

// OpenSSL checks every flavour, brainpool included, with code unrelated to ours.
func TestWithOpenSSL(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed (Debian package openssl)")
	}
	pki, impostor := pkis(t)
	for _, f := range flavours {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			p := pki[f]
			dir := t.TempDir()
			if err := p.Write(dir); err != nil {
				t.Fatal(err)
			}
			write := func(name, typ string, der []byte) string {
				path := filepath.Join(dir, name)
				b := der
				if typ != "" {
					b = pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
				}
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return path
			}
			for _, opts := range [][]SODOption{nil, {WithSubjectKeyID()}} {
				sod, err := p.SignSOD(dataGroups, crypto.SHA256, opts...)
				if err != nil {
					t.Fatal(err)
				}
				ci, err := lds.ParseSOD(sod)
				if err != nil {
					t.Fatal(err)
				}
				in := write("sod.p7", "", ci)
				out := filepath.Join(dir, "lso.der")
				openssl(t, true, "cms", "-verify", "-inform", "DER", "-in", in, "-CAfile", filepath.Join(dir, FileCSCA),
					"-purpose", "any", "-binary", "-out", out)
				lso, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				checkLDSObject(t, lso, crypto.SHA256)
			}
			ca := filepath.Join(dir, FileCSCA)
			openssl(t, true, "verify", "-CAfile", ca, filepath.Join(dir, FileDS))
			openssl(t, true, "verify", "-crl_check", "-CAfile", ca, "-CRLfile", filepath.Join(dir, FileCRL), filepath.Join(dir, FileDS))
			openssl(t, true, "pkey", "-in", filepath.Join(dir, FileDSKey), "-noout")
			revocation, err := p.RevokeDS()
			if err != nil {
				t.Fatal(err)
			}
			out := openssl(t, false, "verify", "-crl_check", "-CAfile", ca, "-CRLfile", write("revoked.pem", "X509 CRL", revocation), filepath.Join(dir, FileDS))
			if !strings.Contains(out, "revoked") {
				t.Errorf("openssl did not report revocation: %s", out)
			}
			openssl(t, false, "verify", "-CAfile", ca, write("impostor.pem", "CERTIFICATE", impostor[f].DS.Certificate))
			expired, err := p.ExpiredDS(time.Now())
			if err != nil {
				t.Fatal(err)
			}
			out = openssl(t, false, "verify", "-CAfile", ca, write("expired.pem", "CERTIFICATE", expired.Certificate))
			if !strings.Contains(out, "expired") {
				t.Errorf("openssl did not report expiry: %s", out)
			}
		})
	}
}

func openssl(t *testing.T, wantOK bool, args ...string) string {
	t.Helper()
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if (err == nil) != wantOK {
		t.Errorf("openssl %s: %v, want success %v\n%s", args[0], err, wantOK, out)
	}
	return string(out)
}

func TestSignSODRejects(t *testing.T) {
	t.Parallel()
	pki, _ := pkis(t)
	if _, err := pki[ECDSABrainpool].SignSOD(dataGroups, crypto.MD5); err == nil {
		t.Error("SignSOD accepted MD5")
	}
	sum := sha256.Sum256(nil)
	if _, err := SignSOD(dataGroups, crypto.SHA256, Credential{Certificate: sum[:], Key: pki[RSA].DS.Key}); err == nil {
		t.Error("SignSOD accepted a certificate that is not DER")
	}
}
