package idcard_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/devices/idcard/passiveauth"
	"github.com/vnkiosk/kiosk/devices/idcard/pcsc"
	"github.com/vnkiosk/kiosk/devices/idcard/pcsc/pcsctest"
	"github.com/vnkiosk/kiosk/devices/idcard/testpki"
	"github.com/vnkiosk/kiosk/devices/idcard/virtualcard"
	"github.com/vnkiosk/kiosk/devices/idcard/vpcd"
)

// insert puts card into slot s through vpcd for the rest of the test, with the
// removal fault wired to the slot.
func insert(t *testing.T, s pcsctest.Slot, card *virtualcard.Card) *vpcd.Slot {
	t.Helper()
	pcsctest.WaitEmpty(t, s.Reader)
	vs, err := virtualcard.Serve(context.Background(), s.Addr, card)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vs.Remove(); _ = vs.Wait() })
	return vs
}

func readSlot(t *testing.T, s pcsctest.Slot, key idcard.AccessKey, opt idcard.Options) (*idcard.Document, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	doc, reader, err := idcard.ReadFromReader(ctx, s.Reader, key, opt, 5*time.Second)
	if err == nil && reader != s.Reader {
		t.Errorf("read from %q, want %q", reader, s.Reader)
	}
	return doc, err
}

// TestReadThroughPCSCD crosses the real boundary: pcscd, vpcd, the virtual card in
// its own goroutine on TCP. Every access path, both PKI flavours, both active
// authentication keys, short and extended APDUs.
func TestReadThroughPCSCD(t *testing.T) {
	tests := []struct {
		name     string
		flavour  testpki.Flavour
		aa       virtualcard.AAKey
		extended bool
		key      func(*virtualcard.Card) (idcard.AccessKey, error)
		opt      idcard.Options
		access   string
	}{
		{"PACE-CAN short RSA", testpki.RSA, virtualcard.AARSA, false,
			func(c *virtualcard.Card) (idcard.AccessKey, error) { return idcard.KeyFromCAN(c.CAN()) }, idcard.Options{}, "PACE-CAN"},
		{"PACE-CAN extended brainpool", testpki.ECDSABrainpool, virtualcard.AAECDSA, true,
			func(c *virtualcard.Card) (idcard.AccessKey, error) { return idcard.KeyFromCAN(c.CAN()) }, idcard.Options{}, "PACE-CAN"},
		{"PACE-MRZ", testpki.ECDSABrainpool, virtualcard.AARSA, false,
			func(c *virtualcard.Card) (idcard.AccessKey, error) {
				return idcard.KeyFromMRZ(joinLines(c.Profile().MRZ))
			}, idcard.Options{}, "PACE-MRZ"},
		{"PACE-CAN from the card QR", testpki.RSA, virtualcard.AAECDSA, false,
			func(c *virtualcard.Card) (idcard.AccessKey, error) {
				p := c.Profile()
				return idcard.KeyFromCardQR(*p.IDNumber + "||" + *p.FullName + "|15031983|Nam|Hà Nội|10042021")
			}, idcard.Options{}, "PACE-CAN"},
		{"BAC", testpki.RSA, virtualcard.AARSA, false,
			func(c *virtualcard.Card) (idcard.AccessKey, error) {
				return idcard.AccessKey{MRZInput: c.MRZKeyInput()}, nil
			},
			idcard.Options{Access: idcard.AccessBAC}, "BAC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := pcsctest.AcquireAny(t)
			card := newCard(t, virtualcard.Options{PKI: testPKI(t, tt.flavour), AAKey: tt.aa, Extended: tt.extended})
			insert(t, s, card)
			key, err := tt.key(card)
			if err != nil {
				t.Fatal(err)
			}
			opt := tt.opt
			opt.Trust = trustOf(t, card.PKI())
			doc, err := readSlot(t, s, key, opt)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := personal(doc), personal(card.Profile()); string(got) != string(want) {
				t.Errorf("document differs from profile\n got %s\nwant %s", got, want)
			}
			v := doc.Verification
			if v.Access != tt.access || v.Passive.State != passiveauth.StatusValid || v.ChipAuth.State != idcard.AuthOK || v.ActiveAuth.State != idcard.AuthOK {
				t.Errorf("verification %+v", v)
			}
			if doc.Stats.Extended != tt.extended {
				t.Errorf("extended = %v, want %v (ATR detection)", doc.Stats.Extended, tt.extended)
			}
			t.Logf("%d APDUs, %d bytes in, %d ms", doc.Stats.APDUs, doc.Stats.BytesIn, doc.Stats.DurationMS)
		})
	}
}

// TestPassiveAuthenticationStates produces each of the five states through pcscd.
func TestPassiveAuthenticationStates(t *testing.T) {
	for _, flavour := range []testpki.Flavour{testpki.RSA, testpki.ECDSABrainpool} {
		pki := testPKI(t, flavour)
		impostor, err := pki.Impostor()
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name    string
			card    virtualcard.Options
			trust   *testpki.PKI
			state   string
			checkDG string
		}{
			{"valid", virtualcard.Options{}, pki, passiveauth.StatusValid, ""},
			{"invalid (DG13 edited after signing)", virtualcard.Options{TamperDataGroup: 13}, pki, passiveauth.StatusInvalid, "DG13"},
			{"untrusted chain (same-name CSCA, other key)", virtualcard.Options{}, impostor, passiveauth.StatusUntrustedChain, ""},
			{"unknown CSCA (empty trust store)", virtualcard.Options{}, nil, passiveauth.StatusUnknownCSCA, ""},
			{"absent (no SOD)", virtualcard.Options{NoSOD: true}, pki, passiveauth.StatusAbsent, ""},
		}
		for _, tt := range tests {
			t.Run(string(flavour)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				s := pcsctest.AcquireAny(t)
				opts := tt.card
				opts.PKI = pki
				card := newCard(t, opts)
				insert(t, s, card)
				key, _ := idcard.KeyFromCAN(card.CAN())
				opt := idcard.Options{NoPhoto: true}
				if tt.trust != nil {
					opt.Trust = trustOf(t, tt.trust)
				}
				doc, err := readSlot(t, s, key, opt)
				if err != nil {
					t.Fatal(err)
				}
				p := doc.Verification.Passive
				if p.State != tt.state {
					t.Errorf("state %q (%s), want %q", p.State, p.Reason, tt.state)
				}
				if tt.checkDG != "" && p.DataGroups[tt.checkDG] != passiveauth.DataGroupMismatch {
					t.Errorf("%s = %q, want mismatch", tt.checkDG, p.DataGroups[tt.checkDG])
				}
				if tt.state != passiveauth.StatusAbsent && (p.SODHash == "" || p.SignatureAlgorithm == "") {
					t.Errorf("evidence missing: %+v", p)
				}
			})
		}
	}
}

// TestFaultsGiveClearErrors runs each fault mode of the virtual card through
// pcscd: the read fails with a sentence, nothing panics, and a good card read in
// the same slot right after works.
func TestFaultsGiveClearErrors(t *testing.T) {
	tests := []struct {
		fault   virtualcard.Fault
		timeout time.Duration
		codes   []string
	}{
		{virtualcard.FaultWrongMAC, 0, []string{"integrity"}},
		{virtualcard.FaultTruncated, 0, []string{"integrity", "read_failed"}},
		{virtualcard.FaultRemoval, 0, []string{"card_removed"}},
		{virtualcard.FaultGarbage, 0, []string{"integrity", "read_failed"}},
		{virtualcard.FaultSlow, 2 * time.Second, []string{"timeout"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.fault), func(t *testing.T) {
			t.Parallel()
			s := pcsctest.AcquireAny(t)
			bad := newCard(t, virtualcard.Options{Fault: tt.fault})
			slot := insert(t, s, bad)
			key, _ := idcard.KeyFromCAN(bad.CAN())
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if tt.timeout > 0 {
				cancel()
				ctx, cancel = context.WithTimeout(context.Background(), tt.timeout)
			}
			_, _, err := idcard.ReadFromReader(ctx, s.Reader, key, idcard.Options{}, 5*time.Second)
			cancel()
			if err == nil {
				t.Fatal("a faulty card read without error")
			}
			m := idcard.Explain(err)
			if !contains(tt.codes, m.Code) {
				t.Errorf("fault %s: code %q (%v), want one of %v", tt.fault, m.Code, err, tt.codes)
			}
			if m.VI == "" || m.EN == "" {
				t.Error("no message for the person at the kiosk")
			}
			slot.Remove()
			_ = slot.Wait()

			good := newCard(t, virtualcard.Options{})
			insert(t, s, good)
			key, _ = idcard.KeyFromCAN(good.CAN())
			doc, err := readSlot(t, s, key, idcard.Options{Trust: trustOf(t, good.PKI())})
			if err != nil {
				t.Fatalf("the next card after a %s fault: %v", tt.fault, err)
			}
			if doc.Verification.Passive.State != passiveauth.StatusValid {
				t.Errorf("next card passive %+v", doc.Verification.Passive)
			}
		})
	}
}

func TestNoCardAndWrongReader(t *testing.T) {
	t.Parallel()
	s := pcsctest.AcquireAny(t)
	pcsctest.WaitEmpty(t, s.Reader)
	key, _ := idcard.KeyFromCAN("123456")
	_, _, err := idcard.ReadFromReader(context.Background(), s.Reader, key, idcard.Options{}, 300*time.Millisecond)
	if !errors.Is(err, idcard.ErrNoCard) || idcard.Explain(err).Code != "no_card" {
		t.Errorf("empty reader: %v", err)
	}
	_, _, err = idcard.ReadFromReader(context.Background(), "No Such Reader*", key, idcard.Options{}, 0)
	if !errors.Is(err, pcsc.ErrNoReader) || idcard.Explain(err).Code != "no_reader" {
		t.Errorf("unknown reader: %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
