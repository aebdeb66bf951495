package bac

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/iso7816/iso7816test"
	"github.com/vnkiosk/kiosk/devices/idcard/mrz"
	"github.com/vnkiosk/kiosk/devices/idcard/securemessaging"
)

// ICAO 9303 Part 11 Appendix D.1-D.3 (document L898902C<3, born 690806, expiring
// 940623).
const (
	d1KeyInput = "L898902C<369080619406236"
	d2Kenc     = "AB94FDECF2674FDFB9B391F85D7F76F2"
	d2Kmac     = "7962D9ECE03D1ACD4C76089DCE131543"
	d3RndIC    = "4608F91988702212"
	d3RndIFD   = "781723860C06C226"
	d3KIFD     = "0B795240CB7049B01C19B33E32804F0B"
	d3KIC      = "0B4F80323EB3191CB04970CB4052790B"
	// EXTERNAL AUTHENTICATE: E_IFD || M_IFD, and the chip's E_IC || M_IC.
	d3CmdData  = "72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2" + "5F1448EEA8AD90A7"
	d3RespData = "46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F" + "2F2D235D074D7449"
	// D.4, the first protected command, which only the session keys KSenc
	// 979EC13B1CBFE9DCD01AB0FED307EAE5, KSmac F1CB1F1FB5ADF208806B89DC579DC1F8 and
	// SSC 887022120C06C226 produce.
	d4Select     = "0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800"
	d4SelectResp = "990290008E08FA855A5D4C50A8ED9000"
)

var unhex = iso7816test.Unhex

type script = iso7816test.Playback

func TestDeriveKeysAppendixD2(t *testing.T) {
	t.Parallel()
	kenc, kmac := DeriveKeys(d1KeyInput)
	if !bytes.Equal(kenc, unhex(t, d2Kenc)) {
		t.Errorf("Kenc = %X, want %s", kenc, d2Kenc)
	}
	if !bytes.Equal(kmac, unhex(t, d2Kmac)) {
		t.Errorf("Kmac = %X, want %s", kmac, d2Kmac)
	}
}

// Appendix D.3 through Authenticate, then the first protected command of D.4
// through the returned channel: the exact bytes prove KSenc, KSmac and the SSC.
func TestAuthenticateAppendixD3(t *testing.T) {
	t.Parallel()
	sc := &script{T: t, Exchanges: [][2]string{
		{"0084000008", d3RndIC + "9000"},
		{"0082000028" + d3CmdData + "28", d3RespData + "9000"},
		{d4Select, d4SelectResp},
	}}
	rnd := bytes.NewReader(unhex(t, d3RndIFD+d3KIFD))
	ch, err := Authenticate(context.Background(), iso7816.NewConn(sc), d1KeyInput, rnd)
	if err != nil {
		t.Fatal(err)
	}
	if rnd.Len() != 0 {
		t.Errorf("%d random bytes left unread", rnd.Len())
	}
	if ch.Algorithm() != securemessaging.TripleDES {
		t.Errorf("algorithm %s", ch.Algorithm())
	}
	resp, err := ch.Send(context.Background(), iso7816.Command{INS: 0xA4, P1: 0x02, P2: 0x0C, Data: []byte{0x01, 0x1E}})
	if err != nil || resp.SW != iso7816.SWOK {
		t.Fatalf("SELECT EF.COM: %v %v", resp.SW, err)
	}
	sc.Done()
}

// The chip side of D.3: with RND.IC and K.IC injected, the card answers the ICAO
// cryptogram byte for byte and its session accepts the D.4 command.
func TestCardAppendixD3(t *testing.T) {
	t.Parallel()
	card := NewCard(d1KeyInput, bytes.NewReader(unhex(t, d3RndIC+d3KIC)))
	resp, sess := card.Process(iso7816.Command{INS: 0x84, Ne: 8})
	if resp.SW != iso7816.SWOK || !bytes.Equal(resp.Data, unhex(t, d3RndIC)) || sess != nil {
		t.Fatalf("GET CHALLENGE = %X %s", resp.Data, resp.SW)
	}
	resp, sess = card.Process(iso7816.Command{INS: 0x82, Data: unhex(t, d3CmdData), Ne: 0x28})
	if resp.SW != iso7816.SWOK || !bytes.Equal(resp.Data, unhex(t, d3RespData)) {
		t.Fatalf("EXTERNAL AUTHENTICATE = %X %s, want %s 9000", resp.Data, resp.SW, d3RespData)
	}
	if sess == nil {
		t.Fatal("no session after successful authentication")
	}
	cmd, err := iso7816.ParseCommand(unhex(t, d4Select))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.UnwrapCommand(cmd); err != nil {
		t.Fatalf("D.4 SELECT under the card's session: %v", err)
	}
	if got := sess.WrapResponse(iso7816.Response{SW: iso7816.SWOK}); !bytes.Equal(got.Bytes(), unhex(t, d4SelectResp)) {
		t.Errorf("D.4 response %X, want %s", got.Bytes(), d4SelectResp)
	}
}

// chip routes commands to a bac.Card until it hands out a session, then through
// the session to a one-file application.
type chip struct {
	card    *Card
	session *securemessaging.CardSession
	file    []byte
}

func (c *chip) Transmit(_ context.Context, raw []byte) ([]byte, error) {
	cmd, err := iso7816.ParseCommand(raw)
	if err != nil {
		return iso7816.Response{SW: iso7816.SWWrongLength}.Bytes(), nil
	}
	if c.session == nil || (cmd.CLA&0x0C == 0 && Handles(cmd.INS)) {
		resp, s := c.card.Process(cmd)
		if s != nil {
			c.session = s
		}
		return resp.Bytes(), nil
	}
	plain, err := c.session.UnwrapCommand(cmd)
	if err != nil {
		var ce *securemessaging.CommandError
		if errors.As(err, &ce) {
			return iso7816.Response{SW: ce.SW}.Bytes(), nil
		}
		return nil, err
	}
	resp := iso7816.Response{SW: iso7816.SWINSNotSupported}
	if plain.INS == 0xB0 {
		off := int(plain.P1)<<8 | int(plain.P2)
		end := min(off+plain.Ne, len(c.file))
		resp = iso7816.Response{Data: c.file[min(off, end):end], SW: iso7816.SWOK}
	}
	return c.session.WrapResponse(resp).Bytes(), nil
}

func TestRoundTripWithCard(t *testing.T) {
	t.Parallel()
	// The key input a kiosk builds from a CCCD-shaped MRZ.
	key, err := mrz.KeyInput("099012345", "990101", "390101")
	if err != nil {
		t.Fatal(err)
	}
	c := &chip{card: NewCard(key, nil), file: []byte("EF.DG1 contents under BAC")}
	conn := iso7816.NewConn(c)
	ch, err := Authenticate(context.Background(), conn, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(c.file); off += 10 {
		resp, err := ch.Send(context.Background(), iso7816.Command{INS: 0xB0, P2: byte(off), Ne: 10})
		if err != nil {
			t.Fatal(err)
		}
		if want := c.file[off:min(off+10, len(c.file))]; !bytes.Equal(resp.Data, want) {
			t.Fatalf("read at %d: %q, want %q", off, resp.Data, want)
		}
	}
	// Authenticating again (as readers do after a session error) replaces the
	// session on both sides.
	if _, err := Authenticate(context.Background(), conn, key, nil); err != nil {
		t.Fatalf("second authentication: %v", err)
	}
}

func TestWrongKey(t *testing.T) {
	t.Parallel()
	card := NewCard(d1KeyInput, nil)
	c := &chip{card: card}
	_, err := Authenticate(context.Background(), iso7816.NewConn(c), "L898902C<369080619406244", nil)
	if !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("err = %v, want ErrAccessDenied", err)
	}
	if !iso7816.IsStatus(err, 0x6300) {
		t.Errorf("err = %v does not carry 6300", err)
	}
	if !strings.Contains(err.Error(), "MRZ") {
		t.Errorf("error %q does not point at the MRZ data", err)
	}
	if strings.Contains(err.Error(), "L898902C") || strings.Contains(err.Error(), "690806") {
		t.Errorf("error %q leaks MRZ data", err)
	}
	if c.session != nil {
		t.Fatal("card handed out a session for a wrong key")
	}
	// The card stays unauthenticated and still accepts the right key.
	if _, err := Authenticate(context.Background(), iso7816.NewConn(c), d1KeyInput, nil); err != nil {
		t.Fatalf("right key after wrong key: %v", err)
	}
}

// Authenticate against a scripted card whose answers are wrong in one way each.
func TestHostileOrFailingCard(t *testing.T) {
	t.Parallel()
	// A genuine D.3 answer with one bit changed in the cryptogram: the MAC catches it.
	badMAC := []byte(d3RespData)
	badMAC[0] = '5'
	// A correctly MACed answer whose RND.IFD echo is wrong.
	kenc, kmac := DeriveKeys(d1KeyInput)
	r := unhex(t, d3RndIC+"0000000000000000"+d3KIC)
	wrongEcho, err := encryptAndMAC(kenc, kmac, r)
	if err != nil {
		t.Fatal(err)
	}
	// A correctly MACed answer for a different RND.IC.
	r = unhex(t, "0102030405060708"+d3RndIFD+d3KIC)
	wrongChallenge, err := encryptAndMAC(kenc, kmac, r)
	if err != nil {
		t.Fatal(err)
	}
	ea := "0082000028" + d3CmdData + "28"
	for _, tc := range []struct {
		name    string
		ex      [][2]string
		rnd     []byte
		wantErr error
		wantSW  iso7816.SW
	}{
		{name: "6982 to EXTERNAL AUTHENTICATE", ex: [][2]string{{"0084000008", d3RndIC + "9000"}, {ea, "6982"}}, wantErr: ErrAccessDenied},
		{name: "cryptogram MAC wrong", ex: [][2]string{{"0084000008", d3RndIC + "9000"}, {ea, string(badMAC) + "9000"}}, wantErr: ErrCardAuthentication},
		{name: "RND.IFD not echoed", ex: [][2]string{{"0084000008", d3RndIC + "9000"}, {ea, hex.EncodeToString(wrongEcho) + "9000"}}, wantErr: ErrCardAuthentication},
		{name: "RND.IC changed", ex: [][2]string{{"0084000008", d3RndIC + "9000"}, {ea, hex.EncodeToString(wrongChallenge) + "9000"}}, wantErr: ErrCardAuthentication},
		{name: "short answer", ex: [][2]string{{"0084000008", d3RndIC + "9000"}, {ea, d3RespData[:60] + "9000"}}},
		{name: "other error status", ex: [][2]string{{"0084000008", d3RndIC + "9000"}, {ea, "6A80"}}, wantSW: iso7816.SWIncorrectData},
		{name: "BAC not supported", ex: [][2]string{{"0084000008", "6D00"}}, wantSW: iso7816.SWINSNotSupported},
		{name: "challenge of 7 bytes", ex: [][2]string{{"0084000008", d3RndIC[:14] + "9000"}}},
		{name: "randomness fails", ex: [][2]string{{"0084000008", d3RndIC + "9000"}}, rnd: unhex(t, d3RndIFD)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rnd := tc.rnd
			if rnd == nil {
				rnd = unhex(t, d3RndIFD+d3KIFD)
			}
			sc := &script{T: t, Exchanges: tc.ex}
			ch, err := Authenticate(context.Background(), iso7816.NewConn(sc), d1KeyInput, bytes.NewReader(rnd))
			if err == nil || ch != nil {
				t.Fatalf("Authenticate succeeded (%v)", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != ErrAccessDenied && errors.Is(err, ErrAccessDenied) {
				t.Errorf("err = %v wrongly blames the MRZ", err)
			}
			if tc.wantSW != 0 && !iso7816.IsStatus(err, tc.wantSW) {
				t.Errorf("err = %v, want status %s", err, tc.wantSW)
			}
			sc.Done()
		})
	}
	if _, err := Authenticate(context.Background(), iso7816.NewConn(&script{T: t}), "", nil); err == nil {
		t.Error("empty key input accepted")
	}
	if _, err := Authenticate(context.Background(), iso7816.NewConn(&script{T: t, Exchanges: [][2]string{{"0084000008", d3RndIC + "9000"}}}),
		d1KeyInput, iotest.ErrReader(errors.New("no entropy"))); err == nil {
		t.Error("failing random source accepted")
	}
}

func TestCardRefuses(t *testing.T) {
	t.Parallel()
	getChallenge := iso7816.Command{INS: 0x84, Ne: 8}
	ea := iso7816.Command{INS: 0x82, Data: unhex(t, d3CmdData), Ne: 0x28}
	for _, tc := range []struct {
		name string
		cmds []iso7816.Command // all but the last must succeed
		want iso7816.SW
	}{
		{"no challenge", []iso7816.Command{ea}, iso7816.SWConditionsNotSatisfied},
		{"replayed after success", []iso7816.Command{getChallenge, ea, ea}, iso7816.SWConditionsNotSatisfied},
		{"wrong key", []iso7816.Command{getChallenge, {INS: 0x82, Data: func() []byte {
			d := unhex(t, d3CmdData)
			d[39] ^= 1
			return d
		}(), Ne: 0x28}}, 0x6300},
		{"challenge not echoed", []iso7816.Command{getChallenge, getChallenge, ea}, 0x6300},
		{"Lc 39", []iso7816.Command{getChallenge, {INS: 0x82, Data: unhex(t, d3CmdData)[:39], Ne: 0x28}}, iso7816.SWWrongLength},
		{"EXTERNAL AUTHENTICATE P1", []iso7816.Command{getChallenge, {INS: 0x82, P1: 1, Data: unhex(t, d3CmdData), Ne: 0x28}}, iso7816.SWIncorrectP1P2},
		{"GET CHALLENGE Le 16", []iso7816.Command{{INS: 0x84, Ne: 16}}, iso7816.SWWrongLength},
		{"GET CHALLENGE P2", []iso7816.Command{{INS: 0x84, P2: 1, Ne: 8}}, iso7816.SWIncorrectP1P2},
		{"other instruction", []iso7816.Command{{INS: 0xB0, Ne: 8}}, iso7816.SWINSNotSupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The second challenge differs from the first, so "not echoed" fails.
			card := NewCard(d1KeyInput, bytes.NewReader(unhex(t, d3RndIC+d3KIC+"1111111111111111"+d3KIC)))
			for i, cmd := range tc.cmds {
				resp, sess := card.Process(cmd)
				if i < len(tc.cmds)-1 {
					if resp.SW != iso7816.SWOK {
						t.Fatalf("step %d: %s", i, resp.SW)
					}
					continue
				}
				if resp.SW != tc.want || sess != nil || resp.Data != nil {
					t.Errorf("got %X %s session=%v, want %s and no session", resp.Data, resp.SW, sess != nil, tc.want)
				}
			}
		})
	}
	card := NewCard(d1KeyInput, iotest.ErrReader(errors.New("no entropy")))
	if resp, _ := card.Process(getChallenge); resp.SW != iso7816.SWUnknown {
		t.Errorf("GET CHALLENGE without randomness = %s", resp.SW)
	}
}
