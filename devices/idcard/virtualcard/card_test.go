package virtualcard

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/devices/idcard/activeauth"
	"github.com/vnkiosk/kiosk/devices/idcard/bac"
	"github.com/vnkiosk/kiosk/devices/idcard/chipauth"
	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/lds"
	"github.com/vnkiosk/kiosk/devices/idcard/mrz"
	"github.com/vnkiosk/kiosk/devices/idcard/pace"
	"github.com/vnkiosk/kiosk/devices/idcard/passiveauth"
	"github.com/vnkiosk/kiosk/devices/idcard/securemessaging"
	"github.com/vnkiosk/kiosk/devices/idcard/securityinfo"
	"github.com/vnkiosk/kiosk/devices/idcard/testpki"
)

func TestSamples(t *testing.T) {
	t.Parallel()
	if got, want := SampleNames(), []string{"le-van-thanh", "nguyen-thi-hoa", "nguyen-van-an", "tran-thi-mai"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("SampleNames() = %v, want %v", got, want)
	}
	tests := []struct {
		name, can, line3 string
		noExpiry         bool
		spouse, oldID    bool
	}{
		{name: "nguyen-van-an", can: "012345", line3: "NGUYEN<<VAN<AN", spouse: true, oldID: true},
		{name: "tran-thi-mai", can: "004321", line3: "TRAN<<THI<MAI"},
		{name: "le-van-thanh", can: "000789", line3: "LE<<VAN<THANH", noExpiry: true, oldID: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Sample(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			id := *d.IDNumber
			if id[len(id)-6:] != tt.can {
				t.Errorf("CAN %s, want %s", id[len(id)-6:], tt.can)
			}
			// IDVNM + last 9 digits + check digit + full ID + << + check digit.
			cd := func(s string) string {
				n, err := mrz.CheckDigit(s)
				if err != nil {
					t.Fatal(err)
				}
				return fmt.Sprint(n)
			}
			if want := "IDVNM" + id[3:] + cd(id[3:]) + id + "<<" + cd(id); d.MRZ[0] != want {
				t.Errorf("MRZ line 1 %q, want %q", d.MRZ[0], want)
			}
			if strings.TrimRight(d.MRZ[2], "<") != tt.line3 {
				t.Errorf("MRZ line 3 %q, want %q", d.MRZ[2], tt.line3)
			}
			if *d.DocumentNumber != id[3:] {
				t.Errorf("document number %s, want %s", *d.DocumentNumber, id[3:])
			}
			if got := *d.DateOfExpiry == idcard.NoExpiry; got != tt.noExpiry {
				t.Errorf("date_of_expiry %q", *d.DateOfExpiry)
			}
			if tt.noExpiry && d.MRZ[1][8:14] != "991231" {
				t.Errorf("MRZ expiry of a lifetime card %q, want 991231", d.MRZ[1][8:14])
			}
			if (d.SpouseName != nil) != tt.spouse || (d.OldIDNumber != nil) != tt.oldID {
				t.Errorf("spouse %v, old ID %v; want %v, %v", d.SpouseName != nil, d.OldIDNumber != nil, tt.spouse, tt.oldID)
			}
			if d.Photo == nil || len(d.Photo.Data) < faceMinBytes || len(d.Photo.Data) > faceMaxBytes {
				t.Errorf("photo missing or not about 18 KB")
			}
		})
	}
	if n := len(Samples()); n != 4 {
		t.Errorf("Samples() has %d citizens", n)
	}
	if _, err := Sample("nobody"); err == nil {
		t.Error("Sample(nobody) succeeded")
	}
}

func TestComplete(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	base := func() *idcard.Document {
		return &idcard.Document{IDNumber: s("001083012345"), FullName: s("Đặng Thị Ánh Tuyết"),
			DateOfBirth: s("1983-03-15"), Sex: s("Nữ"), DateOfExpiry: s("2043-03-15"), FatherName: s("")}
	}
	d, err := Complete(base())
	if err != nil {
		t.Fatal(err)
	}
	if want := "DANG<<THI<ANH<TUYET"; strings.TrimRight(d.MRZ[2], "<") != want {
		t.Errorf("name line %q, want %q", d.MRZ[2], want)
	}
	if d.MRZ[1][7] != 'F' || *d.DocumentNumber != "083012345" || d.FatherName != nil {
		t.Errorf("sex %c, document number %s, father %v", d.MRZ[1][7], *d.DocumentNumber, d.FatherName)
	}
	bad := []struct {
		name   string
		change func(*idcard.Document)
	}{
		{"no id", func(d *idcard.Document) { d.IDNumber = nil }},
		{"short id", func(d *idcard.Document) { d.IDNumber = s("12345") }},
		{"no name", func(d *idcard.Document) { d.FullName = nil }},
		{"bad birth date", func(d *idcard.Document) { d.DateOfBirth = s("15/03/1983") }},
		{"31 February", func(d *idcard.Document) { d.DateOfIssue = s("2021-02-31") }},
		{"bad expiry", func(d *idcard.Document) { d.DateOfExpiry = s("never") }},
		{"document number not in mrz", func(d *idcard.Document) {
			d.DocumentNumber = s("999999999")
			d.MRZ = []string{"IDVNM0830123450001083012345<<1", "8303154M4303156VNM<<<<<<<<<<<6", "NGUYEN<<VAN<AN<<<<<<<<<<<<<<<<"}
		}},
		{"bad mrz", func(d *idcard.Document) { d.MRZ = []string{"IDVNM"} }},
		{"photo not a JPEG", func(d *idcard.Document) { d.Photo = &idcard.Photo{MIME: "image/png", Data: []byte("\x89PNG")} }},
	}
	for _, tt := range bad {
		d := base()
		tt.change(d)
		if _, err := Complete(d); err == nil {
			t.Errorf("%s: Complete succeeded", tt.name)
		}
	}
}

func TestCardAccessAndATR(t *testing.T) {
	t.Parallel()
	for _, ext := range []bool{false, true} {
		c := newCard(t, Options{Extended: ext, AAKey: AAECDSA})
		b, _ := c.File(lds.FileCardAccess)
		if hex.EncodeToString(b) != CardAccessHex {
			t.Errorf("EF.CardAccess %x", b)
		}
		atr := c.ATR()
		if got := idcard.ATRAllowsExtended(atr); got != ext {
			t.Errorf("extended %v: ATR %X says extended %v", ext, atr, got)
		}
		var x byte
		for _, v := range atr[1:] {
			x ^= v
		}
		if atr[0] != 0x3B || atr[1]&0xF0 != 0x80 || x != 0 {
			t.Errorf("ATR %X: want 3B 8n ... with a TCK making the XOR from T0 zero", atr)
		}
	}
	// The hex is also what securityinfo encodes for those infos.
	b, _ := hex.DecodeString(CardAccessHex)
	si, err := securityinfo.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	again, err := securityinfo.EncodeCardAccess(si)
	if err != nil || !bytes.Equal(again, b) {
		t.Errorf("EncodeCardAccess gives %x, %v", again, err)
	}
}

func TestAccess(t *testing.T) {
	t.Parallel()
	c := newCard(t, Options{AAKey: AAECDSA})
	dg1, _ := c.File(dataGroup(1))
	wrongMRZ, err := mrz.KeyInput("083012346", "830315", "430315")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		open     func(context.Context, *iso7816.Conn) (*securemessaging.Channel, error)
		denied   error
		protocol securemessaging.Algorithm
	}{
		{name: "PACE-CAN", protocol: securemessaging.AES128, open: func(ctx context.Context, conn *iso7816.Conn) (*securemessaging.Channel, error) {
			return openPACE(ctx, conn, pace.Password{Kind: pace.CAN, Value: c.CAN()})
		}},
		{name: "PACE-MRZ", protocol: securemessaging.AES128, open: func(ctx context.Context, conn *iso7816.Conn) (*securemessaging.Channel, error) {
			return openPACE(ctx, conn, pace.Password{Kind: pace.MRZ, Value: c.MRZKeyInput()})
		}},
		{name: "BAC", protocol: securemessaging.TripleDES, open: func(ctx context.Context, conn *iso7816.Conn) (*securemessaging.Channel, error) {
			return openBAC(ctx, conn, c.MRZKeyInput())
		}},
		{name: "PACE wrong CAN", denied: pace.ErrAccessDenied, open: func(ctx context.Context, conn *iso7816.Conn) (*securemessaging.Channel, error) {
			return openPACE(ctx, conn, pace.Password{Kind: pace.CAN, Value: "999999"})
		}},
		{name: "PACE wrong MRZ", denied: pace.ErrAccessDenied, open: func(ctx context.Context, conn *iso7816.Conn) (*securemessaging.Channel, error) {
			return openPACE(ctx, conn, pace.Password{Kind: pace.MRZ, Value: wrongMRZ})
		}},
		{name: "BAC wrong MRZ", denied: bac.ErrAccessDenied, open: func(ctx context.Context, conn *iso7816.Conn) (*securemessaging.Channel, error) {
			return openBAC(ctx, conn, wrongMRZ)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			c.Reset()
			conn := connect(c, false)
			ch, err := tt.open(ctx, conn)
			if tt.denied != nil {
				if !errors.Is(err, tt.denied) {
					t.Fatalf("error %v, want %v", err, tt.denied)
				}
				// Still locked.
				resp, err := conn.Send(ctx, iso7816.Command{INS: 0xB0, P1: 0x81, Ne: 0xDF})
				if err != nil || resp.SW != iso7816.SWSecurityNotSatisfied {
					t.Errorf("DG1 after refused access: %v %v, want 6982", resp.SW, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ch.Algorithm() != tt.protocol {
				t.Errorf("secure messaging %v, want %v", ch.Algorithm(), tt.protocol)
			}
			got, err := readWhole(ctx, ch, dataGroup(1), ch.MaxShortRead())
			if err != nil || !bytes.Equal(got, dg1) {
				t.Errorf("DG1 %x, %v; want %x", got, err, dg1)
			}
		})
	}
}

// TestFilesMatchProfile reads every file of every sample card under PACE and
// checks it is what the profile encodes, and that passive authentication holds
// with the PKI's CSCA.
func TestFilesMatchProfile(t *testing.T) {
	t.Parallel()
	flavours := []testpki.Flavour{testpki.ECDSABrainpool, testpki.RSA, testpki.ECDSABrainpool, testpki.RSA}
	for i, d := range Samples() {
		aa := []AAKey{AARSA, AAECDSA}[i%2]
		t.Run(strings.TrimRight(d.MRZ[2], "<")+"/"+string(aa), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			pki := testPKI(t, flavours[i])
			c := newCard(t, Options{Profile: d, PKI: pki, AAKey: aa})
			_, ch := mustPACE(t, c, false)
			files := map[int][]byte{}
			var sod []byte
			for _, f := range []lds.File{lds.FileCOM, lds.FileSOD, dataGroup(1), dataGroup(2), dataGroup(13), dataGroup(14), dataGroup(15)} {
				b, err := readWhole(ctx, ch, f, ch.MaxShortRead())
				if err != nil {
					t.Fatalf("%s: %v", f.Name, err)
				}
				want, _ := c.File(f)
				if !bytes.Equal(b, want) {
					t.Errorf("%s read differs from the card's file", f.Name)
				}
				switch {
				case f == lds.FileSOD:
					sod = b
				case f.DataGroup > 0:
					files[f.DataGroup] = b
				}
			}
			if got := documentFromFiles(t, files); !reflect.DeepEqual(got, d) {
				t.Errorf("card content\n%+v\nwant profile\n%+v", got, d)
			}

			com, err := lds.ParseCOM(mustFile(t, c, lds.FileCOM))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := com.DataGroups(), []int{1, 2, 3, 13, 14, 15}; !reflect.DeepEqual(got, want) {
				t.Errorf("EF.COM lists %v, want %v", got, want)
			}
			dg14, err := securityinfo.ParseDG14(files[14])
			if err != nil {
				t.Fatal(err)
			}
			ca, pk, err := dg14.ChipAuthenticationPair()
			if err != nil || pk.Curve == nil || pk.Curve.ParameterID != 13 || ca.Protocol.String() != "0.4.0.127.0.7.2.2.3.2.2" {
				t.Errorf("DG14 chip authentication %v %+v %v", ca.Protocol, pk.Curve, err)
			}
			if len(dg14.TerminalAuthentication) != 1 || (len(dg14.ActiveAuthentication) == 1) != (aa == AAECDSA) {
				t.Errorf("DG14: %d TA infos, %d AA infos", len(dg14.TerminalAuthentication), len(dg14.ActiveAuthentication))
			}

			ts := passiveauth.NewTrustStore([]*passiveauth.Certificate{mustCert(t, pki.CSCA.Certificate)}, nil)
			res := passiveauth.Verify(sod, files, ts, time.Now())
			if res.Status != passiveauth.StatusValid {
				t.Errorf("passive authentication %s: %s", res.Status, res.Reason)
			}
			if len(res.DataGroups) != 5 {
				t.Errorf("passive authentication checked %v, want DG1, DG2, DG13, DG14, DG15", res.DataGroups)
			}
		})
	}
}

func mustFile(t testing.TB, c *Card, f lds.File) []byte {
	t.Helper()
	b, ok := c.File(f)
	if !ok {
		t.Fatalf("card has no %s", f.Name)
	}
	return b
}

func mustCert(t testing.TB, der []byte) *passiveauth.Certificate {
	t.Helper()
	c, err := passiveauth.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestChipAuthentication(t *testing.T) {
	t.Parallel()
	c := newCard(t, Options{AAKey: AAECDSA})
	for _, access := range []string{"PACE", "BAC"} {
		t.Run(access, func(t *testing.T) {
			ctx := context.Background()
			c.Reset()
			conn := connect(c, false)
			var ch *securemessaging.Channel
			var err error
			if access == "PACE" {
				ch, err = openPACE(ctx, conn, pace.Password{Kind: pace.CAN, Value: c.CAN()})
			} else {
				ch, err = openBAC(ctx, conn, c.MRZKeyInput())
			}
			if err != nil {
				t.Fatal(err)
			}
			dg14, err := readWhole(ctx, ch, dataGroup(14), ch.MaxShortRead())
			if err != nil {
				t.Fatal(err)
			}
			si, err := securityinfo.ParseDG14(dg14)
			if err != nil {
				t.Fatal(err)
			}
			ca, pk, err := si.ChipAuthenticationPair()
			if err != nil {
				t.Fatal(err)
			}
			next, err := chipauth.Authenticate(ctx, ch, ca, pk, nil)
			if err != nil {
				t.Fatal(err)
			}
			// The card's next answers verify only under the new keys.
			if _, err := sendOK(ctx, next, selectLDS1); err != nil {
				t.Fatalf("SELECT under the chip authentication keys: %v", err)
			}
			dg1, err := readWhole(ctx, next, dataGroup(1), next.MaxShortRead())
			if err != nil || !bytes.Equal(dg1, mustFile(t, c, dataGroup(1))) {
				t.Errorf("DG1 after chip authentication: %v", err)
			}
			// The old session is gone.
			if _, err := ch.Send(ctx, selectLDS1); err == nil {
				t.Error("the pre-chip-authentication channel still works")
			}
		})
	}
}

func TestActiveAuthentication(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		aa       AAKey
		extended bool
		alg      string
	}{
		{AARSA, false, "RSA"}, // 256-byte signature: answered in pieces with 61xx
		{AARSA, true, "RSA"},
		{AAECDSA, false, "ECDSA"},
	} {
		t.Run(fmt.Sprintf("%s/extended=%v", tt.aa, tt.extended), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			c := newCard(t, Options{AAKey: tt.aa, Extended: tt.extended})
			_, ch := mustPACE(t, c, tt.extended)
			dg15, err := readWhole(ctx, ch, dataGroup(15), ch.MaxShortRead())
			if err != nil {
				t.Fatal(err)
			}
			spki, err := lds.ParseDG15(dg15)
			if err != nil {
				t.Fatal(err)
			}
			var info *securityinfo.ActiveAuthenticationInfo
			if si, err := securityinfo.ParseDG14(mustFile(t, c, dataGroup(14))); err == nil && len(si.ActiveAuthentication) > 0 {
				info = &si.ActiveAuthentication[0]
			}
			res, err := activeauth.Authenticate(ctx, ch, spki, info, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK || !strings.Contains(res.Algorithm, tt.alg) {
				t.Errorf("active authentication %+v", res)
			}
			// A signature with another card's key does not verify: the check can fail.
			other := newCard(t, Options{AAKey: tt.aa})
			_, och := mustPACE(t, other, false)
			res, err = activeauth.Authenticate(ctx, och, spki, info, nil)
			if err != nil || res.OK {
				t.Errorf("another card's signature: %+v %v, want a failed result", res, err)
			}
		})
	}
	// Without secure messaging the card refuses to sign.
	c := newCard(t, Options{AAKey: AAECDSA})
	resp, err := connect(c, false).Send(context.Background(), activeauth.InternalAuthenticate(make([]byte, 8)))
	if err != nil || resp.SW != iso7816.SWSecurityNotSatisfied {
		t.Errorf("plain INTERNAL AUTHENTICATE: %v %v, want 6982", resp.SW, err)
	}
}

func TestQuirks(t *testing.T) {
	t.Parallel()
	c := newCard(t, Options{AAKey: AAECDSA})
	cardAccess := mustFile(t, c, lds.FileCardAccess)
	ctx := context.Background()
	raw := func(t *testing.T, conn *iso7816.Conn, apdu string) iso7816.Response {
		t.Helper()
		b, _ := hex.DecodeString(apdu)
		out, err := conn.T.Transmit(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		r, err := iso7816.ParseResponse(out)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	t.Run("before access", func(t *testing.T) {
		c.Reset()
		conn := connect(c, false)
		for _, tt := range []struct {
			name, apdu string
			sw         iso7816.SW
			data       []byte
		}{
			{"SELECT MF", "00A4000C023F00", iso7816.SWINSNotSupported, nil},
			{"SELECT EF.CardAccess", "00A4020C02011C", iso7816.SWOK, nil},
			{"READ BINARY selected", "00B0000000", iso7816.SWEndOfFile, cardAccess},
			{"READ BINARY SFI 1C", "00B09C0000", iso7816.SWEndOfFile, cardAccess},
			{"READ BINARY SFI 1C, Le exact", fmt.Sprintf("00B09C00%02X", len(cardAccess)), iso7816.SWOK, cardAccess},
			{"SELECT LDS1", "00A4040C07A0000002471001", iso7816.SWOK, nil},
			{"SELECT unknown AID", "00A4040C07A0000002471002", iso7816.SWFileNotFound, nil},
			{"READ BINARY DG1", "00B0810000", iso7816.SWSecurityNotSatisfied, nil},
			{"SELECT DG1", "00A4020C020101", iso7816.SWSecurityNotSatisfied, nil},
			{"READ BINARY EF.COM", "00B09E0000", iso7816.SWSecurityNotSatisfied, nil},
			{"protected without session", "0CB0810003970100", iso7816.SWSMDataObjectsIncorrect, nil},
			{"unknown INS", "00CA000000", iso7816.SWINSNotSupported, nil},
		} {
			r := raw(t, conn, tt.apdu)
			if r.SW != tt.sw || !bytes.Equal(r.Data, tt.data) {
				t.Errorf("%s: %X %s, want %X %s", tt.name, r.Data, r.SW, tt.data, tt.sw)
			}
		}
	})
	t.Run("after PACE", func(t *testing.T) {
		c.Reset()
		conn, ch := mustPACE(t, c, false)
		for _, tt := range []struct {
			name string
			cmd  iso7816.Command
			sw   iso7816.SW
		}{
			{"READ BINARY DG3", iso7816.Command{INS: 0xB0, P1: 0x83, Ne: 0xDF}, iso7816.SWSecurityNotSatisfied},
			{"SELECT DG3", iso7816.Command{INS: 0xA4, P1: 0x02, P2: 0x0C, Data: []byte{0x01, 0x03}}, iso7816.SWSecurityNotSatisfied},
			{"READ BINARY DG11", iso7816.Command{INS: 0xB0, P1: 0x8B, Ne: 0xDF}, iso7816.SWFileNotFound},
			{"SELECT DG11", iso7816.Command{INS: 0xA4, P1: 0x02, P2: 0x0C, Data: []byte{0x01, 0x0B}}, iso7816.SWFileNotFound},
			{"SELECT MF", iso7816.Command{INS: 0xA4, P2: 0x0C, Data: []byte{0x3F, 0x00}}, iso7816.SWINSNotSupported},
			{"SELECT DG1", iso7816.Command{INS: 0xA4, P1: 0x02, P2: 0x0C, Data: []byte{0x01, 0x01}}, iso7816.SWOK},
			{"READ BINARY current at EOF", iso7816.Command{INS: 0xB0, P1: 0x01, P2: 0x00, Ne: 1}, iso7816.SWWrongP1P2},
			{"READ BINARY SFI 1C", iso7816.Command{INS: 0xB0, P1: 0x9C, Ne: 0xDF}, iso7816.SWEndOfFile},
		} {
			resp, err := ch.Send(ctx, tt.cmd)
			if err != nil || resp.SW != tt.sw {
				t.Errorf("%s: %s %v, want %s", tt.name, resp.SW, err, tt.sw)
			}
		}
		// An unprotected command ends the session: the card answers 6987 ...
		r := raw(t, conn, "00B0810004")
		if r.SW != iso7816.SWSMDataObjectsMissing {
			t.Errorf("plain READ BINARY under secure messaging: %s, want 6987", r.SW)
		}
		// ... and the terminal's next protected command finds no session.
		if _, err := ch.Send(ctx, iso7816.Command{INS: 0xB0, P1: 0x81, Ne: 4}); !errors.Is(err, securemessaging.ErrAborted) {
			t.Errorf("protected command after the session was dropped: %v, want ErrAborted", err)
		}
		if r := raw(t, conn, "00B0810004"); r.SW != iso7816.SWSecurityNotSatisfied {
			t.Errorf("DG1 after the session was dropped: %s, want 6982", r.SW)
		}
	})
	t.Run("power cycle ends the session", func(t *testing.T) {
		c.Reset()
		_, ch := mustPACE(t, c, false)
		c.PowerOff()
		if _, err := ch.Send(ctx, selectLDS1); !errors.Is(err, ErrRemoved) {
			t.Errorf("command to a powered-off card: %v, want ErrRemoved", err)
		}
		c.PowerOn()
		_, ch = mustPACE(t, c, false)
		c.Reset()
		if _, err := ch.Send(ctx, selectLDS1); !errors.Is(err, securemessaging.ErrAborted) {
			t.Errorf("protected command after reset: %v, want ErrAborted", err)
		}
	})
}

func TestReadBinary(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newCard(t, Options{AAKey: AAECDSA, MaxLe: 0x80})
	dg1 := mustFile(t, c, dataGroup(1))
	dg13 := mustFile(t, c, dataGroup(13))
	_, ch := mustPACE(t, c, false)
	tests := []struct {
		name     string
		cmd      iso7816.Command
		data     []byte
		sw       iso7816.SW
		wantSize int
	}{
		{name: "MaxLe caps Ne", cmd: iso7816.Command{INS: 0xB0, P1: 0x8D, Ne: 0xDF}, data: dg13[:0x80], sw: iso7816.SWOK},
		{name: "whole small file", cmd: iso7816.Command{INS: 0xB0, P1: 0x81, Ne: len(dg1)}, data: dg1, sw: iso7816.SWOK},
		{name: "end of file before Ne", cmd: iso7816.Command{INS: 0xB0, P1: 0x81, P2: 10, Ne: 0x80}, data: dg1[10:], sw: iso7816.SWEndOfFile},
		{name: "offset in current file", cmd: iso7816.Command{INS: 0xB0, P1: 0x00, P2: 3, Ne: 5}, data: dg1[3:8], sw: iso7816.SWOK},
		{name: "offset beyond end", cmd: iso7816.Command{INS: 0xB0, P1: 0x01, P2: 0x00, Ne: 5}, sw: iso7816.SWWrongP1P2},
		{name: "SFI with bad P1 bits", cmd: iso7816.Command{INS: 0xB0, P1: 0xA1, Ne: 5}, sw: iso7816.SWIncorrectP1P2},
	}
	for _, tt := range tests {
		resp, err := ch.Send(ctx, tt.cmd)
		if err != nil || resp.SW != tt.sw || !bytes.Equal(resp.Data, tt.data) {
			t.Errorf("%s: %d bytes %s %v, want %d bytes %s", tt.name, len(resp.Data), resp.SW, err, len(tt.data), tt.sw)
		}
	}
	// A whole DG2 reads in chunks of MaxLe.
	conn := connect(c, false)
	c.Reset()
	ch, err := openPACE(ctx, conn, pace.Password{Kind: pace.CAN, Value: c.CAN()})
	if err != nil {
		t.Fatal(err)
	}
	before := conn.Stats().APDUs
	dg2, err := readWhole(ctx, ch, dataGroup(2), ch.MaxShortRead())
	if err != nil || !bytes.Equal(dg2, mustFile(t, c, dataGroup(2))) {
		t.Fatalf("DG2: %v", err)
	}
	if n, want := conn.Stats().APDUs-before, int64((len(dg2)+0x7F)/0x80); n != want {
		t.Errorf("DG2 of %d bytes took %d APDUs with MaxLe 0x80, want %d", len(dg2), n, want)
	}
}

func TestExtendedLength(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("on", func(t *testing.T) {
		t.Parallel()
		c := newCard(t, Options{AAKey: AAECDSA, Extended: true})
		conn, ch := mustPACE(t, c, true)
		dg2 := mustFile(t, c, dataGroup(2))
		if len(dg2) < 18*1024 {
			t.Fatalf("DG2 of %d bytes, want an 18 KB face", len(dg2))
		}
		before := conn.Stats().APDUs
		got, err := readWhole(ctx, ch, dataGroup(2), 0xFF00)
		if err != nil || !bytes.Equal(got, dg2) {
			t.Fatalf("DG2: %v", err)
		}
		if n := conn.Stats().APDUs - before; n != 1 {
			t.Errorf("DG2 took %d APDUs with extended length, want 1", n)
		}
		// The largest answer still fits the vpcd frame.
		resp, err := ch.Send(ctx, iso7816.Command{INS: 0xB0, P1: 0x82, Ne: iso7816.MaxExtendedNe})
		if err != nil || len(resp.Data) != len(dg2) || resp.SW != iso7816.SWEndOfFile {
			t.Errorf("Ne 65536: %d bytes %s %v", len(resp.Data), resp.SW, err)
		}
	})
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		c := newCard(t, Options{AAKey: AAECDSA})
		_, ch := mustPACE(t, c, true) // the terminal tries extended anyway
		resp, err := ch.Send(ctx, iso7816.Command{INS: 0xB0, P1: 0x82, Ne: 0xFF00})
		if err != nil || resp.SW != iso7816.SWWrongLength {
			t.Fatalf("extended READ BINARY: %s %v, want 6700", resp.SW, err)
		}
		// The card dropped secure messaging with it.
		if _, err := ch.Send(ctx, iso7816.Command{INS: 0xB0, P1: 0x81, Ne: 4}); !errors.Is(err, securemessaging.ErrAborted) {
			t.Errorf("next protected command: %v, want ErrAborted", err)
		}
		// Short APDUs work after a new PACE.
		_, ch = mustPACE(t, c, false)
		if _, err := readWhole(ctx, ch, dataGroup(2), ch.MaxShortRead()); err != nil {
			t.Errorf("DG2 with short APDUs: %v", err)
		}
	})
}

func TestFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fault Fault
		want  func(error) bool
	}{
		{FaultWrongMAC, func(err error) bool { return errors.Is(err, securemessaging.ErrMAC) }},
		{FaultTruncated, func(err error) bool { return errors.Is(err, securemessaging.ErrMalformed) }},
		{FaultGarbage, func(err error) bool {
			return errors.Is(err, securemessaging.ErrMalformed) || errors.Is(err, securemessaging.ErrMAC)
		}},
		{FaultRemoval, func(err error) bool { return errors.Is(err, ErrRemoved) }},
	}
	for _, tt := range tests {
		for _, ext := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/extended=%v", tt.fault, ext), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				c := newCard(t, Options{AAKey: AAECDSA, Fault: tt.fault, Extended: ext})
				chunk := 0xDF
				if ext {
					chunk = 0xFF00
				}
				for round := 1; round <= 2; round++ {
					// Re-inserted, or reset as pcsc.Card.Close leaves it.
					if tt.fault == FaultRemoval {
						c.PowerOn()
					} else {
						c.Reset()
					}
					_, ch := mustPACE(t, c, ext)
					// Everything but DG2 reads fine.
					if _, err := readWhole(ctx, ch, dataGroup(1), chunk); err != nil {
						t.Fatalf("DG1: %v", err)
					}
					_, err := readWhole(ctx, ch, dataGroup(2), chunk)
					if !tt.want(err) {
						t.Fatalf("DG2 read: %v", err)
					}
					if tt.fault == FaultRemoval {
						// Out until re-inserted: a reset does not bring it back.
						c.Reset()
						if _, err := Transport(c).Transmit(ctx, []byte{0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00}); !errors.Is(err, ErrRemoved) {
							t.Errorf("command after removal and reset: %v, want ErrRemoved", err)
						}
					}
					// The fault strikes again on every read of DG2.
					if n := c.FaultsFired(); n != round {
						t.Errorf("fault fired %d times after %d reads", n, round)
					}
				}
			})
		}
	}
	t.Run("slow", func(t *testing.T) {
		t.Parallel()
		const delay = 40 * time.Millisecond
		c := newCard(t, Options{AAKey: AAECDSA, Fault: FaultSlow, SlowDelay: delay})
		conn := connect(c, false)
		start := time.Now()
		if _, err := sendOK(context.Background(), conn, selectLDS1); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < delay {
			t.Errorf("one APDU took %v, want at least %v", d, delay)
		}
		if c.FaultsFired() != 0 {
			t.Errorf("slow counted as a strike")
		}
	})
	if _, err := ParseFault("wrong-MAC"); err == nil {
		t.Error("ParseFault accepted an unknown name")
	}
	for _, f := range Faults() {
		if g, err := ParseFault(string(f)); err != nil || g != f {
			t.Errorf("ParseFault(%q) = %q, %v", f, g, err)
		}
	}
	if _, err := New(Options{PKI: testPKI(t, testpki.RSA), Fault: "melt"}); err == nil {
		t.Error("New accepted an unknown fault")
	}
}

func TestGetResponse(t *testing.T) {
	t.Parallel()
	// MaxLe above what fits a short protected answer: the card chains with 61xx.
	c := newCard(t, Options{AAKey: AAECDSA, MaxLe: 0xE7})
	conn, ch := mustPACE(t, c, false)
	before := conn.Stats().APDUs
	resp, err := ch.Send(context.Background(), iso7816.Command{INS: 0xB0, P1: 0x82, Ne: 0xE7})
	if err != nil || !bytes.Equal(resp.Data, mustFile(t, c, dataGroup(2))[:0xE7]) {
		t.Fatalf("READ BINARY of 0xE7 bytes: %v", err)
	}
	if n := conn.Stats().APDUs - before; n != 2 {
		t.Errorf("%d APDUs, want READ BINARY and one GET RESPONSE", n)
	}
	// GET RESPONSE with nothing pending.
	out, err := Transport(c).Transmit(context.Background(), []byte{0x00, 0xC0, 0x00, 0x00, 0x00})
	if err != nil || !bytes.Equal(out, []byte{0x69, 0x85}) {
		t.Errorf("stray GET RESPONSE: %X %v, want 6985", out, err)
	}
}
