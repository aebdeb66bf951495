package siteconfig

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/kiosk/staff"
	"github.com/vnkiosk/kiosk/provisioning/identity"
)

const testSite = "000.31.20.H29"

// testCA is a CA with a site-configuration signer, like the backend's.
type testCA struct {
	cert      *x509.Certificate
	key       *ecdsa.PrivateKey
	signer    *x509.Certificate
	signerKey *ecdsa.PrivateKey
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func createCert(t testing.TB, tmpl, parent *x509.Certificate, pub, signer any) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newCA(t testing.TB) *testCA {
	t.Helper()
	ca := &testCA{key: newKey(t), signerKey: newKey(t)}
	ca.cert = createCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}, nil, &ca.key.PublicKey, ca.key)
	ca.signer = ca.issue(t, SignerCommonName, x509.ExtKeyUsageCodeSigning, &ca.signerKey.PublicKey, nil)
	return ca
}

func (ca *testCA) issue(t testing.TB, cn string, eku x509.ExtKeyUsage, pub *ecdsa.PublicKey, ou []string) *x509.Certificate {
	t.Helper()
	return createCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn, OrganizationalUnit: ou},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{eku}}, ca.cert, pub, ca.key)
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

func (ca *testCA) sign(t testing.TB, raw []byte) []byte {
	t.Helper()
	s, err := Sign(raw, ca.signerKey, []*x509.Certificate{ca.signer})
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s)
}

// stateDir is a provisioned state directory: the pinned CA and a device
// certificate for testSite.
func (ca *testCA) stateDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	id := filepath.Join(dir, identity.DirName)
	if err := os.MkdirAll(id, 0o700); err != nil {
		t.Fatal(err)
	}
	dev := newKey(t)
	device := ca.issue(t, "kiosk-1", x509.ExtKeyUsageClientAuth, &dev.PublicKey, []string{testSite})
	for name, c := range map[string]*x509.Certificate{identity.CAName: ca.cert, identity.CertName: device} {
		if err := os.WriteFile(filepath.Join(id, name), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var (
	pinOnce sync.Once
	pinHash string
)

// testPINHash is one argon2id hash shared by the tests (hashing is slow by
// design).
func testPINHash(t testing.TB) string {
	t.Helper()
	pinOnce.Do(func() {
		h, err := staff.HashPIN("4826")
		if err != nil {
			panic(err)
		}
		pinHash = h
	})
	return pinHash
}

func cscaPEM(t testing.TB, cn string) string {
	t.Helper()
	k := newKey(t)
	c := createCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn, Country: []string{"VN"}}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}, nil, &k.PublicKey, k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// sampleDoc is a full document; the staff member is fictional.
func sampleDoc(t testing.TB, version int64) *Document {
	t.Helper()
	return &Document{
		Version:     version,
		Site:        testSite,
		IssuedAt:    time.Now().UTC().Truncate(time.Second),
		Procedures:  []string{"1.004873", "2.001417"},
		Departments: []Department{{Code: "KKB", NameVI: "Khoa Khám bệnh", Prefix: "K"}, {Code: "XN", NameVI: "Khoa Xét nghiệm", Prefix: "X"}},
		Staff:       []StaffMember{{IDNumber: "001099000001", Name: "Điều dưỡng Thử", PINHash: testPINHash(t), Role: "nurse"}},
		Payment:     &Payment{BIN: "970436", Account: "0011009999999", AccountName: "BENH VIEN THU", Timeout: "4m"},
		Printer:     Printer{Template: "compact"},
		CSCA:        []string{cscaPEM(t, "CSCA VN test 1"), cscaPEM(t, "CSCA VN test 2")},
	}
}

func marshal(t testing.TB, d any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSignVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	raw := marshal(t, sampleDoc(t, 7))
	sig := ca.sign(t, raw)
	if !bytes.Contains(sig, []byte("..")) || bytes.Count(sig, []byte(".")) != 2 {
		t.Fatalf("signature %q is not a detached compact JWS", sig)
	}
	doc, err := Verify(raw, sig, ca.pool(), testSite, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if doc.Version != 7 || doc.Site != testSite || doc.Printer.Template != "compact" || len(doc.CSCACertificates()) != 2 ||
		!slices.Equal(doc.Procedures, []string{"1.004873", "2.001417"}) || len(doc.Staff) != 1 {
		t.Errorf("verified document %+v", doc)
	}
}

// reSign signs raw with header members changed by edit (still by the signer's
// key), to check that the header's claims are checked and not only the
// signature.
func reSign(t *testing.T, raw []byte, key *ecdsa.PrivateKey, edit func(h *jwsHeader)) []byte {
	t.Helper()
	good, err := Sign(raw, key, []*x509.Certificate{createCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "x"}}, nil, &key.PublicKey, key)})
	if err != nil {
		t.Fatal(err)
	}
	enc, _, _ := strings.Cut(good, ".")
	hb, _ := b64url.DecodeString(enc)
	var h jwsHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		t.Fatal(err)
	}
	edit(&h)
	hb, _ = json.Marshal(h)
	eh := b64url.EncodeToString(hb)
	digest := sha256Sum(b64url.AppendEncode([]byte(eh+"."), raw))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return []byte(eh + ".." + b64url.EncodeToString(sig))
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	ca, other := newCA(t), newCA(t)
	raw := marshal(t, sampleDoc(t, 3))
	sig := ca.sign(t, raw)
	x5c := func(c *x509.Certificate) func(*jwsHeader) {
		return func(h *jwsHeader) { h.X5C = []string{base64.StdEncoding.EncodeToString(c.Raw)} }
	}
	// A kiosk's own certificate chains to the same CA but is for client
	// authentication only; a code-signing certificate with another name is
	// not the signer either.
	kioskKey := newKey(t)
	kioskCert := ca.issue(t, "kiosk-1", x509.ExtKeyUsageClientAuth, &kioskKey.PublicKey, []string{testSite})
	otherSignerKey := newKey(t)
	otherSigner := ca.issue(t, "firmware", x509.ExtKeyUsageCodeSigning, &otherSignerKey.PublicKey, nil)

	withDoc := func(edit func(d *Document)) ([]byte, []byte) {
		d := sampleDoc(t, 3)
		edit(d)
		b := marshal(t, d)
		return b, ca.sign(t, b)
	}
	tests := []struct {
		name  string
		raw   []byte
		sig   []byte
		site  string
		now   time.Time
		want  error
		inMsg string
	}{
		{name: "tampered body", raw: bytes.Replace(raw, []byte(`"version": 3`), []byte(`"version": 4`), 1), sig: sig, want: ErrSignature, inMsg: "does not match the document (tampered or corrupted)"},
		{name: "one byte appended", raw: append(bytes.Clone(raw), ' '), sig: sig, want: ErrSignature},
		{name: "signature of another document", raw: raw, sig: ca.sign(t, marshal(t, sampleDoc(t, 9))), want: ErrSignature},
		{name: "no signature", raw: raw, sig: nil, want: ErrSignature},
		{name: "wrong CA", raw: raw, sig: other.sign(t, raw), want: ErrSigner, inMsg: "unknown authority"},
		{name: "kiosk client certificate", raw: raw, sig: reSign(t, raw, kioskKey, x5c(kioskCert)), want: ErrSigner, inMsg: "key usage"},
		{name: "code signer with another name", raw: raw, sig: reSign(t, raw, otherSignerKey, x5c(otherSigner)), want: ErrSigner, inMsg: `"firmware"`},
		{name: "signer's certificate for another key", raw: raw, sig: reSign(t, raw, kioskKey, x5c(ca.signer)), want: ErrSignature, inMsg: "kid"},
		{name: "no x5c", raw: raw, sig: reSign(t, raw, ca.signerKey, func(h *jwsHeader) { h.X5C = nil }), want: ErrSigner},
		{name: "filing signature type", raw: raw, sig: reSign(t, raw, ca.signerKey, func(h *jwsHeader) { x5c(ca.signer)(h); h.Typ = "" }), want: ErrSignature, inMsg: "typ"},
		{name: "signer expired", raw: raw, sig: sig, now: time.Now().Add(48 * time.Hour), want: ErrSigner, inMsg: "expired"},
		{name: "wrong site", raw: raw, sig: sig, site: "000.00.00.H01", want: ErrWrongSite},
	}
	for _, bad := range []struct {
		name, inMsg string
		edit        func(d *Document)
	}{
		{"unknown procedure", `"9.999999"`, func(d *Document) { d.Procedures = append(d.Procedures, "9.999999") }},
		{"duplicate procedure", "twice", func(d *Document) { d.Procedures = append(d.Procedures, "1.004873") }},
		{"bad department prefix", "prefix", func(d *Document) { d.Departments[0].Prefix = "kk" }},
		{"duplicate department", "codes must be unique", func(d *Document) { d.Departments[1].Code = "KKB" }},
		{"staff without departments", "at least one department", func(d *Document) { d.Departments = nil }},
		{"staff PIN not hashed", "pin_hash", func(d *Document) { d.Staff[0].PINHash = "4826" }},
		{"staff role", "role", func(d *Document) { d.Staff[0].Role = "doctor" }},
		{"payment BIN", "BIN", func(d *Document) { d.Payment.BIN = "97043" }},
		{"payment timeout", "duration", func(d *Document) { d.Payment.Timeout = "soon" }},
		{"printer template", "template", func(d *Document) { d.Printer.Template = "fancy" }},
		{"CSCA not PEM", "csca[1]", func(d *Document) { d.CSCA[1] = "MIIB" }},
		{"version zero", "version", func(d *Document) { d.Version = 0 }},
	} {
		r, s := withDoc(bad.edit)
		tests = append(tests, struct {
			name  string
			raw   []byte
			sig   []byte
			site  string
			now   time.Time
			want  error
			inMsg string
		}{name: bad.name, raw: r, sig: s, want: ErrInvalid, inMsg: bad.inMsg})
	}
	unknown := bytes.Replace(raw, []byte(`"version"`), []byte(`"extra": 1, "version"`), 1)
	tests = append(tests, struct {
		name  string
		raw   []byte
		sig   []byte
		site  string
		now   time.Time
		want  error
		inMsg string
	}{name: "unknown member", raw: unknown, sig: ca.sign(t, unknown), want: ErrInvalid, inMsg: "extra"})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			site, now := tt.site, tt.now
			if site == "" {
				site = testSite
			}
			if now.IsZero() {
				now = time.Now()
			}
			doc, err := Verify(tt.raw, tt.sig, ca.pool(), site, now)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.inMsg) {
				t.Fatalf("Verify = %v, %v; want %v containing %q", doc, err, tt.want, tt.inMsg)
			}
			// Refusals never quote a staff ID number.
			if strings.Contains(err.Error(), "001099000001") {
				t.Errorf("error quotes the staff ID number: %v", err)
			}
		})
	}
}

func applyNew(t *testing.T, ca *testCA, state string, d *Document) ([]byte, []byte) {
	t.Helper()
	raw := marshal(t, d)
	sig := ca.sign(t, raw)
	doc, err := Verify(raw, sig, ca.pool(), testSite, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(state, doc, raw, sig); err != nil {
		t.Fatal(err)
	}
	return raw, sig
}

func versionDirs(t *testing.T, state string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(state, DirName+".v*"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i], _, _ = strings.Cut(strings.TrimPrefix(filepath.Base(m[i]), DirName+"."), "-")
	}
	return m
}

// TestApplyTamperedAndReplay applies version 1, refuses a tampered version 2
// and keeps version 1 loadable, applies the genuine version 2 with version 1
// kept as backup, and refuses replays of either.
func TestApplyTamperedAndReplay(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	state := ca.stateDir(t)
	if _, err := Load(state); !errors.Is(err, ErrNotApplied) {
		t.Fatalf("Load before Apply = %v, want ErrNotApplied", err)
	}
	raw1, sig1 := applyNew(t, ca, state, sampleDoc(t, 1))
	if d, err := Load(state); err != nil || d.Version != 1 {
		t.Fatalf("Load = %v, %v", d, err)
	}

	d2 := sampleDoc(t, 2)
	raw2 := marshal(t, d2)
	sig2 := ca.sign(t, raw2)
	tampered := bytes.Replace(raw2, []byte(`"0011009999999"`), []byte(`"0011008888888"`), 1)
	_, err := Verify(tampered, sig2, ca.pool(), testSite, time.Now())
	if !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "site configuration signature does not verify: signature does not match") {
		t.Fatalf("tampered: %v", err)
	}
	// Apply verifies again, whatever document it is handed.
	if err := Apply(state, d2, tampered, sig2); !errors.Is(err, ErrSignature) {
		t.Fatalf("Apply(tampered) = %v", err)
	}
	if d, err := Load(state); err != nil || d.Version != 1 || d.Payment.Account != "0011009999999" {
		t.Fatalf("after the tampered document, Load = %+v, %v; want version 1", d, err)
	}

	doc2, err := Verify(raw2, sig2, ca.pool(), testSite, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(state, doc2, raw2, sig2); err != nil {
		t.Fatal(err)
	}
	if d, err := Load(state); err != nil || d.Version != 2 {
		t.Fatalf("Load = %v, %v", d, err)
	}
	if got := versionDirs(t, state); !slices.Equal(got, []string{"v1", "v2"}) {
		t.Errorf("version directories %v, want v1 (backup) and v2", got)
	}
	for _, replay := range []struct {
		raw, sig []byte
	}{{raw1, sig1}, {raw2, sig2}} {
		d, err := Verify(replay.raw, replay.sig, ca.pool(), testSite, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := Apply(state, d, replay.raw, replay.sig); !errors.Is(err, ErrReplay) {
			t.Errorf("replaying version %d: %v, want ErrReplay", d.Version, err)
		}
	}
	applyNew(t, ca, state, sampleDoc(t, 5))
	if got := versionDirs(t, state); !slices.Equal(got, []string{"v2", "v5"}) {
		t.Errorf("version directories %v, want v2 (backup) and v5", got)
	}
	st, err := os.Stat(filepath.Join(Dir(state), DocName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("site.json: %v %v, want mode 600", st.Mode(), err)
	}
}

func TestApplyRefusesOtherSiteAndCA(t *testing.T) {
	t.Parallel()
	ca, other := newCA(t), newCA(t)
	state := ca.stateDir(t)
	d := sampleDoc(t, 1)
	d.Site = "000.00.00.H01"
	raw := marshal(t, d)
	sig := ca.sign(t, raw)
	if err := Apply(state, d, raw, sig); !errors.Is(err, ErrWrongSite) {
		t.Errorf("other site: %v", err)
	}
	raw = marshal(t, sampleDoc(t, 1))
	sig = other.sign(t, raw)
	if err := Apply(state, sampleDoc(t, 1), raw, sig); !errors.Is(err, ErrSigner) {
		t.Errorf("other CA: %v", err)
	}
	if _, err := Load(state); !errors.Is(err, ErrNotApplied) {
		t.Errorf("Load = %v, want nothing applied", err)
	}
}

// TestLoadRejectsEditedFiles edits each applied file on disk.
func TestLoadRejectsEditedFiles(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	for _, tt := range []struct {
		name string
		edit func(t *testing.T, dir string)
		want error
	}{
		{"document", func(t *testing.T, dir string) {
			p := filepath.Join(dir, DocName)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(b, []byte(`"compact"`), []byte(`"default"`), 1), 0o600)
		}, ErrSignature},
		{"signature", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, SigName), ca.sign(t, []byte(`{"version":1}`)), 0o600)
		}, ErrSignature},
		{"CSCA file replaced", func(t *testing.T, dir string) {
			m, _ := filepath.Glob(filepath.Join(dir, CSCADirName, "*.pem"))
			os.WriteFile(m[0], []byte(cscaPEM(t, "intruder")), 0o644)
		}, ErrSignature},
		{"CSCA file added", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, CSCADirName, "extra.pem"), []byte(cscaPEM(t, "intruder")), 0o644)
		}, ErrSignature},
		{"CSCA file removed", func(t *testing.T, dir string) {
			m, _ := filepath.Glob(filepath.Join(dir, CSCADirName, "*.pem"))
			os.Remove(m[1])
		}, ErrSignature},
		{"pinned CA replaced", func(t *testing.T, dir string) {
			other := newCA(t)
			os.WriteFile(filepath.Join(filepath.Dir(dir), identity.DirName, identity.CAName), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: other.cert.Raw}), 0o644)
		}, ErrSigner},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			state := ca.stateDir(t)
			applyNew(t, ca, state, sampleDoc(t, 1))
			if _, err := Load(state); err != nil {
				t.Fatal(err)
			}
			tt.edit(t, Dir(state))
			if d, err := Load(state); !errors.Is(err, tt.want) {
				t.Fatalf("Load after editing = %v, %v; want %v", d, err, tt.want)
			}
			if tt.want == ErrSigner {
				return // the kiosk now trusts another CA: nothing this one signs applies
			}
			// A genuine newer document repairs the damage.
			applyNew(t, ca, state, sampleDoc(t, 2))
			if d, err := Load(state); err != nil || d.Version != 2 {
				t.Errorf("after repair: %v, %v", d, err)
			}
		})
	}
}

func TestOverlay(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	full := sampleDoc(t, 1)
	raw := marshal(t, full)
	parsed, err := Verify(raw, ca.sign(t, raw), ca.pool(), testSite, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	base := func(kind config.SiteKind) *config.Config {
		c := config.Defaults()
		c.StateDir = "/var/lib/kioskd"
		c.Site = config.Site{Kind: kind, Code: testSite}
		c.Payment = config.Payment{BIN: "970415", Account: "111", AccountName: "FILE", Timeout: config.Duration(time.Minute)}
		c.Devices.CardReader.CSCADir = "/etc/kioskd/csca"
		c.Hospital.Departments = []config.Department{{Code: "OLD", NameVI: "Cũ"}}
		return &c
	}
	tests := []struct {
		name  string
		kind  config.SiteKind
		doc   *Document
		check func(t *testing.T, c *config.Config)
		err   error
	}{
		{"hospital, everything", config.SiteHospital, parsed, func(t *testing.T, c *config.Config) {
			if !slices.Equal(c.Site.Procedures, []string{"1.004873", "2.001417"}) {
				t.Errorf("procedures %v", c.Site.Procedures)
			}
			if len(c.Hospital.Departments) != 2 || c.Hospital.Departments[0].Code != "KKB" || len(c.Hospital.Staff) != 1 || c.Hospital.Staff[0].Role != "nurse" {
				t.Errorf("hospital %+v", c.Hospital)
			}
			if p := c.Payment; p.BIN != "970436" || p.Account != "0011009999999" || p.AccountName != "BENH VIEN THU" || p.Timeout.D() != 4*time.Minute {
				t.Errorf("payment %+v", p)
			}
			if c.Devices.CardReader.CSCADir != "/var/lib/kioskd/site-config/csca" {
				t.Errorf("csca_dir %q", c.Devices.CardReader.CSCADir)
			}
		}, nil},
		{"ward takes no hospital section", config.SiteWard, parsed, func(t *testing.T, c *config.Config) {
			if len(c.Hospital.Departments) != 1 || c.Hospital.Departments[0].Code != "OLD" || len(c.Hospital.Staff) != 0 {
				t.Errorf("hospital %+v", c.Hospital)
			}
			if len(c.Site.Procedures) != 2 {
				t.Errorf("procedures %v", c.Site.Procedures)
			}
		}, nil},
		{"empty parts keep the file's", config.SiteHospital, &Document{Version: 1, Site: testSite, Payment: &Payment{BIN: "970436", Account: "22"}}, func(t *testing.T, c *config.Config) {
			if c.Site.Procedures != nil || c.Hospital.Departments[0].Code != "OLD" || c.Devices.CardReader.CSCADir != "/etc/kioskd/csca" {
				t.Errorf("changed what the document leaves empty: %+v", c)
			}
			if p := c.Payment; p.Account != "22" || p.AccountName != "" || p.Timeout.D() != time.Minute {
				t.Errorf("payment %+v; want the account replaced and the file's timeout kept", p)
			}
		}, nil},
		{"other site", config.SiteWard, &Document{Version: 1, Site: "000.00.00.H01", Procedures: []string{"1.004873"}}, func(t *testing.T, c *config.Config) {
			if c.Site.Procedures != nil {
				t.Error("applied a document for another site")
			}
		}, ErrWrongSite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := base(tt.kind)
			if err := Overlay(c, tt.doc); !errors.Is(err, tt.err) {
				t.Fatalf("Overlay = %v, want %v", err, tt.err)
			}
			tt.check(t, c)
		})
	}
}

// FuzzParse: any bytes from the network are refused with ErrInvalid or parse,
// never panic.
func FuzzParse(f *testing.F) {
	f.Add(marshal(f, sampleDoc(f, 1)))
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"site":"S"} {}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if _, err := Parse(raw); err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("Parse error %v does not wrap ErrInvalid", err)
		}
	})
}

// FuzzVerify: a signed document whose bytes or signature are changed anywhere
// never verifies.
func FuzzVerify(f *testing.F) {
	ca := newCA(f)
	raw := marshal(f, sampleDoc(f, 1))
	sig := ca.sign(f, raw)
	roots := ca.pool()
	now := time.Now()
	if _, err := Verify(raw, sig, roots, testSite, now); err != nil {
		f.Fatalf("the untouched document: %v", err)
	}
	f.Add(0, byte(1), false)
	f.Add(10, byte(0x20), true)
	f.Fuzz(func(t *testing.T, at int, flip byte, inSig bool) {
		if flip == 0 {
			return
		}
		r, s := bytes.Clone(raw), bytes.Clone(sig)
		target := r
		if inSig {
			target = s
		}
		if at < 0 {
			at = -at
		}
		target[at%len(target)] ^= flip
		if _, err := Verify(r, s, roots, testSite, now); err == nil {
			t.Fatalf("verified after flipping byte %d of the %s with %#x", at%len(target), map[bool]string{true: "signature", false: "document"}[inSig], flip)
		}
	})
}
