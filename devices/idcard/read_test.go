package idcard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/devices/idcard/passiveauth"
	"github.com/vnkiosk/kiosk/devices/idcard/testpki"
	"github.com/vnkiosk/kiosk/devices/idcard/virtualcard"
)

// Test PKIs are generated once per test binary: RSA keys take a while.
var (
	pkiOnce sync.Once
	pkis    map[testpki.Flavour]*testpki.PKI
	pkiErr  error
)

func testPKI(t testing.TB, f testpki.Flavour) *testpki.PKI {
	t.Helper()
	pkiOnce.Do(func() {
		pkis = map[testpki.Flavour]*testpki.PKI{}
		for _, fl := range []testpki.Flavour{testpki.RSA, testpki.ECDSABrainpool} {
			p, err := testpki.New(fl)
			if err != nil {
				pkiErr = err
				return
			}
			pkis[fl] = p
		}
	})
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pkis[f]
}

func trustOf(t testing.TB, p *testpki.PKI) *passiveauth.TrustStore {
	t.Helper()
	c, err := passiveauth.ParseCertificate(p.CSCA.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	return passiveauth.NewTrustStore([]*passiveauth.Certificate{c}, nil)
}

func newCard(t testing.TB, opts virtualcard.Options) *virtualcard.Card {
	t.Helper()
	if opts.PKI == nil {
		opts.PKI = testPKI(t, testpki.RSA)
	}
	c, err := virtualcard.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// personal strips what a read adds to the profile, so the two compare.
func personal(d *idcard.Document) []byte {
	c := *d
	c.Verification, c.Stats = nil, nil
	b, _ := json.Marshal(c)
	return b
}

// TestReadGivesBackTheProfile reads every sample citizen in memory and checks the
// document equals the card's profile field for field, photo included.
func TestReadGivesBackTheProfile(t *testing.T) {
	t.Parallel()
	for _, name := range virtualcard.SampleNames() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			profile, err := virtualcard.Sample(name)
			if err != nil {
				t.Fatal(err)
			}
			card := newCard(t, virtualcard.Options{Profile: profile})
			key, _ := idcard.KeyFromCAN(card.CAN())
			doc, err := idcard.Read(context.Background(), virtualcard.Transport(card), key,
				idcard.Options{Trust: trustOf(t, card.PKI()), ATR: card.ATR()})
			if err != nil {
				t.Fatal(err)
			}
			want := personal(card.Profile())
			if got := personal(doc); !bytes.Equal(got, want) {
				t.Errorf("document differs from profile\n got %s\nwant %s", got, want)
			}
			v := doc.Verification
			if v.Access != "PACE-CAN" || v.Passive.State != passiveauth.StatusValid || v.ChipAuth.State != idcard.AuthOK || v.ActiveAuth.State != idcard.AuthOK {
				t.Errorf("verification %+v", v)
			}
			for _, dg := range []string{"DG1", "DG2", "DG13", "DG14", "DG15"} {
				if v.Passive.DataGroups[dg] != passiveauth.DataGroupOK {
					t.Errorf("%s: %q", dg, v.Passive.DataGroups[dg])
				}
			}
		})
	}
}

func TestReadAccessPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		key    func(c *virtualcard.Card) (idcard.AccessKey, error)
		opt    idcard.Options
		access string
	}{
		{"PACE-CAN", func(c *virtualcard.Card) (idcard.AccessKey, error) { return idcard.KeyFromCAN(c.CAN()) }, idcard.Options{}, "PACE-CAN"},
		{"PACE-MRZ", func(c *virtualcard.Card) (idcard.AccessKey, error) {
			return idcard.KeyFromMRZ(joinLines(c.Profile().MRZ))
		}, idcard.Options{}, "PACE-MRZ"},
		{"PACE-MRZ from document fields", func(c *virtualcard.Card) (idcard.AccessKey, error) {
			return idcard.AccessKey{MRZInput: c.MRZKeyInput()}, nil
		}, idcard.Options{}, "PACE-MRZ"},
		{"BAC", func(c *virtualcard.Card) (idcard.AccessKey, error) {
			return idcard.KeyFromMRZ(joinLines(c.Profile().MRZ))
		}, idcard.Options{Access: idcard.AccessBAC}, "BAC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			card := newCard(t, virtualcard.Options{AAKey: virtualcard.AAECDSA})
			key, err := tt.key(card)
			if err != nil {
				t.Fatal(err)
			}
			opt := tt.opt
			opt.NoPhoto, opt.Trust = true, trustOf(t, card.PKI())
			doc, err := idcard.Read(context.Background(), virtualcard.Transport(card), key, opt)
			if err != nil {
				t.Fatal(err)
			}
			if doc.Verification.Access != tt.access || doc.FullName == nil || doc.Photo != nil {
				t.Errorf("access %s, name %v, photo %v", doc.Verification.Access, doc.FullName != nil, doc.Photo != nil)
			}
			if doc.Verification.ActiveAuth.State != idcard.AuthOK || doc.Verification.ChipAuth.State != idcard.AuthOK {
				t.Errorf("auth %+v", doc.Verification)
			}
		})
	}
}

func TestWrongCAN(t *testing.T) {
	t.Parallel()
	card := newCard(t, virtualcard.Options{})
	wrong := "000000"
	if card.CAN() == wrong {
		wrong = "111111"
	}
	key, _ := idcard.KeyFromCAN(wrong)
	_, err := idcard.Read(context.Background(), virtualcard.Transport(card), key, idcard.Options{})
	if !errors.Is(err, idcard.ErrAccessDenied) || idcard.Explain(err).Code != "access_denied" {
		t.Fatalf("wrong CAN: %v", err)
	}
	key, _ = idcard.KeyFromCAN(card.CAN())
	if _, err := idcard.Read(context.Background(), virtualcard.Transport(card), key, idcard.Options{NoPhoto: true}); err != nil {
		t.Fatalf("right CAN after a wrong one: %v", err)
	}
}

func joinLines(l []string) string {
	var b bytes.Buffer
	for i, s := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(s)
	}
	return b.String()
}

// TestProgress checks the UI's progress events: steps in protocol order, file
// progress reaching each file's size, and bytes read never going backwards.
func TestProgress(t *testing.T) {
	t.Parallel()
	card := newCard(t, virtualcard.Options{})
	key, _ := idcard.KeyFromCAN(card.CAN())
	var steps []string
	last := 0
	done := map[string]int{}
	total := map[string]int{}
	_, err := idcard.Read(context.Background(), virtualcard.Transport(card), key, idcard.Options{Progress: func(p idcard.Progress) {
		if len(steps) == 0 || steps[len(steps)-1] != p.Step {
			steps = append(steps, p.Step)
		}
		if p.BytesRead < last {
			t.Errorf("bytes read went back from %d to %d", last, p.BytesRead)
		}
		last = p.BytesRead
		if p.File != "" && p.FileTotal > 0 {
			done[p.File], total[p.File] = p.FileDone, p.FileTotal
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := "access,read,chip_auth,read,active_auth,passive_auth,done"
	if got := joinComma(steps); got != want {
		t.Errorf("steps %s, want %s", got, want)
	}
	for f, n := range total {
		if done[f] != n {
			t.Errorf("%s progress ended at %d of %d", f, done[f], n)
		}
	}
	if total["EF.DG2"] < 18000 {
		t.Errorf("DG2 total %d, want the 18 KB face", total["EF.DG2"])
	}
}

func joinComma(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(x)
	}
	return b.String()
}

// TestExtendedFallback forces extended length on a card that refuses it: the
// card answers 6700 and drops secure messaging; the reader opens a new session
// and finishes with short APDUs.
func TestExtendedFallback(t *testing.T) {
	t.Parallel()
	card := newCard(t, virtualcard.Options{Extended: false})
	key, _ := idcard.KeyFromCAN(card.CAN())
	doc, err := idcard.Read(context.Background(), virtualcard.Transport(card), key,
		idcard.Options{Extended: idcard.ExtendedOn, Trust: trustOf(t, card.PKI())})
	if err != nil {
		t.Fatal(err)
	}
	if doc.Stats.Extended {
		t.Error("stats say extended although the card refused it")
	}
	if v := doc.Verification; v.Passive.State != "valid" || v.ChipAuth.State != idcard.AuthOK || v.ActiveAuth.State != idcard.AuthOK {
		t.Errorf("verification after fallback %+v", v)
	}
	if got, want := personal(doc), personal(card.Profile()); !bytes.Equal(got, want) {
		t.Error("document differs from profile after the fallback")
	}
}

// TestHostileCardAnswers runs the in-memory card's hostile answers through the
// reader: each ends in an error the kiosk can explain, never a panic or a
// document built from unverified bytes.
func TestHostileCardAnswers(t *testing.T) {
	t.Parallel()
	for _, fault := range []virtualcard.Fault{virtualcard.FaultGarbage, virtualcard.FaultTruncated, virtualcard.FaultWrongMAC} {
		card := newCard(t, virtualcard.Options{Fault: fault})
		key, _ := idcard.KeyFromCAN(card.CAN())
		_, err := idcard.Read(context.Background(), virtualcard.Transport(card), key, idcard.Options{})
		if err == nil {
			t.Errorf("%s: read succeeded", fault)
			continue
		}
		if m := idcard.Explain(err); m.Code != "integrity" && m.Code != "read_failed" {
			t.Errorf("%s: %s (%v)", fault, m.Code, err)
		}
	}
}
