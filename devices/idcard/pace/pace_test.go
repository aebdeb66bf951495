package pace

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/vnkiosk/kiosk/devices/idcard/eccurve"
	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/iso7816/iso7816test"
	"github.com/vnkiosk/kiosk/devices/idcard/securemessaging"
	"github.com/vnkiosk/kiosk/devices/idcard/securityinfo"
)

var unhex = iso7816test.Unhex

// ICAO 9303 Part 11 Appendix G.1: PACE ECDH-GM, brainpoolP256r1, AES-128, MRZ of
// document T22000129 (born 640812, expiring 101031).
const (
	g1MRZ      = "T22000129364081251010318"
	g1K        = "7E2D2A41C74EA0B38CD36F863939BFA8E9032AAD"
	g1Kpi      = "89DED1B26624EC1E634C1989302849DD"
	g1Nonce    = "3F00C4D39D153F2B2A214A078D899B22"
	g1Z        = "95A3A016522EE98D01E76CB6B98B42C3"
	g1SkMapPCD = "7F4EF07B9EA82FD78AD689B38D0BC78CF21F249D953BC46F4C6E19259C010F99"
	g1PkMapPCD = "047ACF3EFC982EC45565A4B155129EFBC74650DCBFA6362D896FC70262E0C2CC5E544552DCB6725218799115B55C9BAA6D9F6BC3A9618E70C25AF71777A9C4922D"
	g1SkMapIC  = "498FF49756F2DC1587840041839A85982BE7761D14715FB091EFA7BCE9058560"
	g1PkMapIC  = "04824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F5730D8C879AAA9C9F73991E61B58F4D52EB87A0A0C709A49DC63719363CCD13C54"
	g1H        = "0460332EF2450B5D247EF6D3868397D398852ED6E8CAF6FFEEF6BF85CA57057FD50840CA7415BAF3E43BD414D35AA4608B93A2CAF3A4E3EA4E82C9C13D03EB7181"
	g1GMapped  = "048CED63C91426D4F0EB1435E7CB1D74A46723A0AF21C89634F65A9AE87A9265E28C879506743F8611AC33645C5B985C80B5F09A0B83407C1B6A4D857AE76FE522"
	g1SkEphPCD = "A73FB703AC1436A18E0CFA5ABB3F7BEC7A070E7A6788486BEE230C4A22762595"
	g1PkEphPCD = "042DB7A64C0355044EC9DF190514C625CBA2CEA48754887122F3A5EF0D5EDD301C3556F3B3B186DF10B857B58F6A7EB80F20BA5DC7BE1D43D9BF850149FBB36462"
	g1SkEphIC  = "107CF58696EF6155053340FD633392BA81909DF7B9706F226F32086C7AFF974A"
	g1PkEphIC  = "049E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D28C1D9EC65DF6DB7764B22277A2EDDC3C265A9F018F9CB852E111B768B326904B59A0193776F094"
	g1Secret   = "28768D20701247DAE81804C9E780EDE582A9996DB4A315020B2733197DB84925"
	g1KSenc    = "F5F0E35C0D7161EE6724EE513A0D9A7F"
	g1KSmac    = "FE251C7858B356B24514B3BD5F4297D1"
	g1TPCD     = "C2B0BD78D94BA866"
	g1TIC      = "3ABB9674BCE93C08"
)

func g1Info() securityinfo.PACEInfo {
	proto := securityinfo.PACEProtocol{KeyAgreement: securityinfo.ECDH, Mapping: securityinfo.GenericMapping, Cipher: securityinfo.AES128}
	return securityinfo.PACEInfo{Protocol: proto.OID(), Version: 2, ParameterID: new(13)}
}

// g1Exchanges is the APDU transcript of G.1. MSE:Set AT carries the domain
// parameter id (84 01 0D), which Establish always sends.
func g1Exchanges() [][2]string {
	return [][2]string{
		{"0022C1A412800A04007F0007020204020283010184010D", "9000"},
		{"10860000027C0000", "7C128010" + g1Z + "9000"},
		{"10860000457C438141" + g1PkMapPCD + "00", "7C438241" + g1PkMapIC + "9000"},
		{"10860000457C438341" + g1PkEphPCD + "00", "7C438441" + g1PkEphIC + "9000"},
		{"008600000C7C0A8508" + g1TPCD + "00", "7C0A8608" + g1TIC + "9000"},
	}
}

// A SELECT of the eMRTD application under the G.1 session keys with SSC zero,
// as computed by an independent implementation (jcexpress icao-sm-vectors).
const (
	g1SelectProtected = "0CA4040C1D871101752F676B09FAC86A87D632749A49C7CC8E08C18BA1FCE707BD9F00"
	g1SelectResponse  = "990290008E08BEA7B381C494A0799000"
)

type script = iso7816test.Playback

func TestAppendixG1Terminal(t *testing.T) {
	t.Parallel()
	sc := &script{T: t, Exchanges: append(g1Exchanges(), [2]string{g1SelectProtected, g1SelectResponse})}
	conn := iso7816.NewConn(sc)
	rnd := bytes.NewReader(unhex(t, g1SkMapPCD+g1SkEphPCD))
	pw := Password{Kind: MRZ, Value: g1MRZ}
	ss, err := establish(context.Background(), conn, g1Info(), pw, rnd)
	if err != nil {
		t.Fatal(err)
	}
	if ss.alg != securemessaging.AES128 || !bytes.Equal(ss.enc, unhex(t, g1KSenc)) || !bytes.Equal(ss.mac, unhex(t, g1KSmac)) {
		t.Fatalf("session keys %X %X (%s)", ss.enc, ss.mac, ss.alg)
	}
	// The same run through the public API, then one protected command.
	sc.Rewind()
	ch, err := Establish(context.Background(), conn, g1Info(), pw, bytes.NewReader(unhex(t, g1SkMapPCD+g1SkEphPCD)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ch.Send(context.Background(), iso7816.Command{INS: 0xA4, P1: 0x04, P2: 0x0C, Data: unhex(t, "A0000002471001")})
	if err != nil || resp.SW != iso7816.SWOK {
		t.Fatalf("protected SELECT: %v %v", resp.SW, err)
	}
	sc.Done()
}

func TestAppendixG1Steps(t *testing.T) {
	t.Parallel()
	p, err := resolve(g1Info())
	if err != nil {
		t.Fatal(err)
	}
	c := p.curve
	pt := func(s string) eccurve.Point {
		q, err := c.Unmarshal(unhex(t, s))
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	k, err := Password{Kind: MRZ, Value: g1MRZ}.key()
	if err != nil {
		t.Fatal(err)
	}
	nonce, err := p.decryptNonce(k, unhex(t, g1Z))
	if err != nil {
		t.Fatal(err)
	}
	z, err := p.encryptNonce(k, nonce)
	if err != nil {
		t.Fatal(err)
	}
	gTerminal, err := p.mapGeneric(nonce, unhex(t, g1SkMapPCD), pt(g1PkMapIC))
	if err != nil {
		t.Fatal(err)
	}
	gChip, err := p.mapGeneric(nonce, unhex(t, g1SkMapIC), pt(g1PkMapPCD))
	if err != nil {
		t.Fatal(err)
	}
	secretTerminal, err := p.sharedSecret(unhex(t, g1SkEphPCD), pt(g1PkEphIC))
	if err != nil {
		t.Fatal(err)
	}
	secretChip, err := p.sharedSecret(unhex(t, g1SkEphIC), pt(g1PkEphPCD))
	if err != nil {
		t.Fatal(err)
	}
	enc, mac := p.sessionKeys(secretTerminal)
	tPCD, err := p.token(mac, pt(g1PkEphIC))
	if err != nil {
		t.Fatal(err)
	}
	tIC, err := p.token(mac, pt(g1PkEphPCD))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want []byte
	}{
		{"K = SHA-1(MRZ information)", k, unhex(t, g1K)},
		{"K_pi", securemessaging.KDF(securemessaging.AES128, k, securemessaging.CounterPI), unhex(t, g1Kpi)},
		{"s = D(K_pi, z)", nonce, unhex(t, g1Nonce)},
		{"z = E(K_pi, s)", z, unhex(t, g1Z)},
		{"PK_map,PCD", c.Marshal(c.ScalarBaseMult(unhex(t, g1SkMapPCD))), unhex(t, g1PkMapPCD)},
		{"PK_map,IC", c.Marshal(c.ScalarBaseMult(unhex(t, g1SkMapIC))), unhex(t, g1PkMapIC)},
		{"H", c.Marshal(c.ScalarMult(pt(g1PkMapIC), unhex(t, g1SkMapPCD))), unhex(t, g1H)},
		{"G' (terminal)", c.Marshal(gTerminal), unhex(t, g1GMapped)},
		{"G' (chip)", c.Marshal(gChip), unhex(t, g1GMapped)},
		{"PK_eph,PCD", c.Marshal(c.ScalarMult(gTerminal, unhex(t, g1SkEphPCD))), unhex(t, g1PkEphPCD)},
		{"PK_eph,IC", c.Marshal(c.ScalarMult(gTerminal, unhex(t, g1SkEphIC))), unhex(t, g1PkEphIC)},
		{"K (terminal)", secretTerminal, unhex(t, g1Secret)},
		{"K (chip)", secretChip, unhex(t, g1Secret)},
		{"KS_Enc", enc, unhex(t, g1KSenc)},
		{"KS_MAC", mac, unhex(t, g1KSmac)},
		{"T_PCD", tPCD, unhex(t, g1TPCD)},
		{"T_IC", tIC, unhex(t, g1TIC)},
	}
	for _, tc := range tests {
		if !bytes.Equal(tc.got, tc.want) {
			t.Errorf("%s = %X, want %X", tc.name, tc.got, tc.want)
		}
	}
}

// The chip side, given the chip's randomness of G.1, must answer the G.1
// commands with exactly the G.1 responses, and its session must match the
// terminal's.
func TestAppendixG1Card(t *testing.T) {
	t.Parallel()
	card, err := NewCard(g1Info(), "", g1MRZ, bytes.NewReader(unhex(t, g1Nonce+g1SkMapIC+g1SkEphIC)))
	if err != nil {
		t.Fatal(err)
	}
	var sess *securemessaging.CardSession
	for i, e := range g1Exchanges() {
		cmd, err := iso7816.ParseCommand(unhex(t, e[0]))
		if err != nil {
			t.Fatal(err)
		}
		if !card.Handles(cmd) {
			t.Fatalf("command %d not recognised as PACE", i)
		}
		resp, s := card.Process(cmd)
		if got, want := resp.Bytes(), unhex(t, e[1]); !bytes.Equal(got, want) {
			t.Errorf("response %d:\n got %X\nwant %X", i, got, want)
		}
		if (s != nil) != (i == 4) {
			t.Errorf("command %d: session %v", i, s)
		}
		sess = s
	}
	if sess == nil {
		t.Fatal("no session")
	}
	prot, err := iso7816.ParseCommand(unhex(t, g1SelectProtected))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := sess.UnwrapCommand(prot)
	if err != nil {
		t.Fatal(err)
	}
	if plain.INS != 0xA4 || plain.P1 != 0x04 || plain.P2 != 0x0C || !bytes.Equal(plain.Data, unhex(t, "A0000002471001")) {
		t.Errorf("unwrapped %+v", plain)
	}
	if got := sess.WrapResponse(iso7816.Response{SW: iso7816.SWOK}).Bytes(); !bytes.Equal(got, unhex(t, g1SelectResponse)) {
		t.Errorf("wrapped response %X", got)
	}
}

// detReader is a deterministic random stream (SHA-256 in counter mode), so that
// round trips can be repeated and recorded.
type detReader struct {
	seed string
	ctr  uint64
	buf  []byte
}

func (r *detReader) Read(p []byte) (int, error) {
	for len(r.buf) < len(p) {
		var c [8]byte
		binary.BigEndian.PutUint64(c[:], r.ctr)
		r.ctr++
		h := sha256.Sum256(append([]byte(r.seed), c[:]...))
		r.buf = append(r.buf, h[:]...)
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// virtualCard is a Transport around Card: it parses each command APDU, runs PACE
// commands through Card and, once a session exists, unwraps every other command,
// answers it (echoing the data, 9000) and wraps the answer.
type virtualCard struct {
	t      testing.TB
	card   *Card
	mu     sync.Mutex
	sess   *securemessaging.CardSession
	plain  []iso7816.Command // protected commands as the card saw them
	record [][2][]byte
}

func (v *virtualCard) Transmit(_ context.Context, raw []byte) ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	cmd, err := iso7816.ParseCommand(raw)
	if err != nil {
		v.t.Errorf("card got a malformed APDU %X: %v", raw, err)
		return iso7816.Response{SW: iso7816.SWWrongLength}.Bytes(), nil
	}
	var out []byte
	if v.sess != nil {
		plain, err := v.sess.UnwrapCommand(cmd)
		if err != nil {
			var ce *securemessaging.CommandError
			if errors.As(err, &ce) {
				return iso7816.Response{SW: ce.SW}.Bytes(), nil
			}
			return nil, err
		}
		v.plain = append(v.plain, plain)
		out = v.sess.WrapResponse(iso7816.Response{Data: plain.Data, SW: iso7816.SWOK}).Bytes()
	} else {
		resp, sess := v.card.Process(cmd)
		v.sess = sess
		out = resp.Bytes()
	}
	v.record = append(v.record, [2][]byte{raw, out})
	return out, nil
}

type suite struct {
	name    string
	paramID int
	cipher  securityinfo.Cipher
}

var suites = []suite{
	{"brainpoolP256r1 AES-128", 13, securityinfo.AES128},
	{"P-256 AES-128", 12, securityinfo.AES128},
	{"brainpoolP384r1 AES-192", 16, securityinfo.AES192},
	{"brainpoolP512r1 AES-256", 17, securityinfo.AES256},
	{"P-256 3DES", 12, securityinfo.TripleDES},
}

func infoFor(s suite) securityinfo.PACEInfo {
	proto := securityinfo.PACEProtocol{KeyAgreement: securityinfo.ECDH, Mapping: securityinfo.GenericMapping, Cipher: s.cipher}
	return securityinfo.PACEInfo{Protocol: proto.OID(), Version: 2, ParameterID: new(s.paramID)}
}

const (
	testCAN = "123456"
	testMRZ = "L898902C<369080619406236"
)

func TestRoundTrips(t *testing.T) {
	t.Parallel()
	for _, s := range suites {
		for _, pw := range []Password{{Kind: CAN, Value: testCAN}, {Kind: MRZ, Value: testMRZ}} {
			t.Run(fmt.Sprintf("%s %s", s.name, pw.Kind), func(t *testing.T) {
				t.Parallel()
				card, err := NewCard(infoFor(s), testCAN, testMRZ, nil)
				if err != nil {
					t.Fatal(err)
				}
				vc := &virtualCard{t: t, card: card}
				ch, err := Establish(context.Background(), iso7816.NewConn(vc), infoFor(s), pw, nil)
				if err != nil {
					t.Fatal(err)
				}
				if want := map[securityinfo.Cipher]securemessaging.Algorithm{securityinfo.TripleDES: securemessaging.TripleDES, securityinfo.AES128: securemessaging.AES128, securityinfo.AES192: securemessaging.AES192, securityinfo.AES256: securemessaging.AES256}[s.cipher]; ch.Algorithm() != want {
					t.Errorf("algorithm %s, want %s", ch.Algorithm(), want)
				}
				payload := []byte("protected after PACE")
				resp, err := ch.Send(context.Background(), iso7816.Command{INS: 0xD6, Data: payload, Ne: 256})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(resp.Data, payload) || len(vc.plain) != 1 || !bytes.Equal(vc.plain[0].Data, payload) {
					t.Errorf("protected exchange: card saw %+v, terminal got %X", vc.plain, resp.Data)
				}
				if len(vc.record) != 6 {
					t.Errorf("%d APDUs, want 6", len(vc.record))
				}
			})
		}
	}
}

func TestWrongPassword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pw   Password
	}{
		{"wrong CAN", Password{Kind: CAN, Value: "654321"}},
		{"wrong MRZ", Password{Kind: MRZ, Value: "L898902C<369080619406237"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			card, err := NewCard(infoFor(suites[0]), testCAN, testMRZ, nil)
			if err != nil {
				t.Fatal(err)
			}
			vc := &virtualCard{t: t, card: card}
			_, err = Establish(context.Background(), iso7816.NewConn(vc), infoFor(suites[0]), tc.pw, nil)
			if !errors.Is(err, ErrAccessDenied) || !iso7816.IsStatus(err, 0x6300) {
				t.Fatalf("err = %v", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "wrong "+tc.pw.Kind.String()) || strings.Contains(msg, tc.pw.Value) {
				t.Errorf("message %q", msg)
			}
			if vc.sess != nil || len(vc.record) != 5 {
				t.Errorf("card session %v after %d APDUs", vc.sess, len(vc.record))
			}
			// The card is back to its initial state: the right password works.
			if _, err := Establish(context.Background(), iso7816.NewConn(vc), infoFor(suites[0]), Password{Kind: tc.pw.Kind, Value: map[PasswordKind]string{CAN: testCAN, MRZ: testMRZ}[tc.pw.Kind]}, nil); err != nil {
				t.Errorf("retry with the right password: %v", err)
			}
		})
	}
}

func TestCardRefusals(t *testing.T) {
	t.Parallel()
	info := g1Info()
	tests := []struct {
		name   string
		sw     string // status word the terminal receives
		at     int    // exchange index it replaces
		denied bool
		tries  int
		text   string
	}{
		{"63C2 at the last step", "63C2", 4, true, 2, "wrong MRZ, 2 tries left"},
		{"6300 at the last step", "6300", 4, true, -1, "wrong MRZ (card answered 6300)"},
		{"6983 at MSE:Set AT", "6983", 0, true, -1, "MRZ is blocked"},
		{"6982 at MSE:Set AT", "6982", 0, true, -1, "blocked or suspended"},
		{"6984 at MSE:Set AT", "6984", 0, true, -1, "deactivated"},
		{"6A80 at MSE:Set AT", "6A80", 0, false, 0, "MSE:Set AT"},
		{"6D00 at step 2", "6D00", 2, false, 0, "GENERAL AUTHENTICATE 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ex := g1Exchanges()[:tc.at+1]
			ex[tc.at][1] = tc.sw
			sc := &script{T: t, Exchanges: ex}
			_, err := Establish(context.Background(), iso7816.NewConn(sc), info, Password{Kind: MRZ, Value: g1MRZ}, bytes.NewReader(unhex(t, g1SkMapPCD+g1SkEphPCD)))
			sc.Done()
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, ErrAccessDenied) != tc.denied || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v", err)
			}
			var ad *AccessDeniedError
			if tc.denied && (!errors.As(err, &ad) || ad.TriesLeft != tc.tries) {
				t.Errorf("AccessDeniedError %+v", ad)
			}
		})
	}
	// 63Cx on MSE:Set AT is a retry counter warning (BSI TR-03110-3): go on.
	ex := g1Exchanges()
	ex[0][1] = "63C2"
	sc := &script{T: t, Exchanges: ex}
	if _, err := Establish(context.Background(), iso7816.NewConn(sc), info, Password{Kind: MRZ, Value: g1MRZ}, bytes.NewReader(unhex(t, g1SkMapPCD+g1SkEphPCD))); err != nil {
		t.Errorf("63C2 warning on MSE:Set AT: %v", err)
	}
	sc.Done()
}

// Hostile or broken card answers must be refused before any key is derived from
// them, and never be mistaken for a wrong password except a bad chip token.
func TestHostileCardAnswers(t *testing.T) {
	t.Parallel()
	offCurve := unhex(t, g1PkMapIC)
	offCurve[64] ^= 1
	infinity := make([]byte, 65)
	infinity[0] = 4
	tests := []struct {
		name   string
		at     int
		resp   string
		denied bool
	}{
		{"mapping key off the curve", 2, "7C438241" + hex.EncodeToString(offCurve) + "9000", false},
		{"mapping key at infinity", 2, "7C438241" + hex.EncodeToString(infinity) + "9000", false},
		{"mapping key compressed", 2, "7C238221" + "02" + g1PkMapIC[2:66] + "9000", false},
		{"mapping key echoed", 2, "7C438241" + g1PkMapPCD + "9000", false},
		{"ephemeral key off the curve", 3, "7C438441" + hex.EncodeToString(offCurve) + "9000", false},
		{"ephemeral key reflected", 3, "7C438441" + g1PkEphPCD + "9000", false},
		{"chip token wrong", 4, "7C0A8608" + "3ABB9674BCE93C09" + "9000", true},
		{"chip token missing", 4, "7C009000", false},
		{"no 7C", 1, "8010" + g1Z + "9000", false},
		{"nonce not a block", 1, "7C11800F" + g1Z[:30] + "9000", false},
		{"nonce empty", 1, "7C0280009000", false},
		{"truncated TLV", 1, "7C128010" + g1Z[:20] + "9000", false},
		{"trailing garbage", 1, "7C128010" + g1Z + "01" + "9000", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ex := g1Exchanges()[:tc.at+1]
			ex[tc.at][1] = tc.resp
			sc := &script{T: t, Exchanges: ex}
			ch, err := Establish(context.Background(), iso7816.NewConn(sc), g1Info(), Password{Kind: MRZ, Value: g1MRZ}, bytes.NewReader(unhex(t, g1SkMapPCD+g1SkEphPCD)))
			sc.Done()
			if err == nil || ch != nil {
				t.Fatalf("accepted: %v", ch)
			}
			if errors.Is(err, ErrAccessDenied) != tc.denied {
				t.Errorf("err = %v, access denied = %v", err, !tc.denied)
			}
		})
	}
}

// The chip side refuses commands out of order, with the wrong chaining, or with
// invalid points, and starts over after any refusal.
func TestCardProtocolErrors(t *testing.T) {
	t.Parallel()
	cmd := func(s string) iso7816.Command {
		c, err := iso7816.ParseCommand(unhex(t, s))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ex := g1Exchanges()
	offCurve := unhex(t, g1PkMapPCD)
	offCurve[64] ^= 1
	tests := []struct {
		name string
		cmds []string
		sw   iso7816.SW
	}{
		{"GA before MSE", []string{ex[1][0]}, iso7816.SWConditionsNotSatisfied},
		{"unknown OID", []string{"0022C1A412800A04007F0007020204020383010184010D"}, iso7816.SWIncorrectData},
		{"wrong parameter id", []string{"0022C1A412800A04007F0007020204020283010184010C"}, iso7816.SWIncorrectData},
		{"CAN not configured", []string{"0022C1A412800A04007F0007020204020283010284010D"}, swRefDataNotFound},
		{"missing chaining bit", []string{ex[0][0], "00860000027C0000"}, swChainingExpected},
		{"chaining on the last step", []string{ex[0][0], ex[1][0], ex[2][0], ex[3][0], "108600000C7C0A8508" + g1TPCD + "00"}, swLastCommandExpected},
		{"terminal point off the curve", []string{ex[0][0], ex[1][0], "10860000457C438141" + hex.EncodeToString(offCurve) + "00"}, iso7816.SWIncorrectData},
		{"step 1 with data", []string{ex[0][0], "10860000047C02800000"}, iso7816.SWIncorrectData},
		{"not 7C", []string{ex[0][0], "1086000002800000"}, iso7816.SWIncorrectData},
		{"other instruction", []string{"00B0000000"}, iso7816.SWINSNotSupported},
	}
	for _, tc := range tests {
		card, err := NewCard(g1Info(), "", g1MRZ, nil)
		if err != nil {
			t.Fatal(err)
		}
		var last iso7816.Response
		for _, c := range tc.cmds {
			last, _ = card.Process(cmd(c))
		}
		if last.SW != tc.sw {
			t.Errorf("%s: SW %s, want %s", tc.name, last.SW, tc.sw)
		}
		if r, _ := card.Process(cmd(ex[1][0])); r.SW != iso7816.SWConditionsNotSatisfied {
			t.Errorf("%s: card kept state after the refusal (%s)", tc.name, r.SW)
		}
	}
}

func TestSelectAndSupported(t *testing.T) {
	t.Parallel()
	gm := func(c securityinfo.Cipher, id int) securityinfo.PACEInfo {
		return infoFor(suite{paramID: id, cipher: c})
	}
	im := securityinfo.PACEInfo{Protocol: (securityinfo.PACEProtocol{KeyAgreement: securityinfo.ECDH, Mapping: securityinfo.IntegratedMapping, Cipher: securityinfo.AES256}).OID(), Version: 2, ParameterID: new(13)}
	dh := securityinfo.PACEInfo{Protocol: (securityinfo.PACEProtocol{KeyAgreement: securityinfo.DH, Mapping: securityinfo.GenericMapping, Cipher: securityinfo.AES256}).OID(), Version: 2, ParameterID: new(0)}
	v1 := gm(securityinfo.AES256, 13)
	v1.Version = 1
	noID := gm(securityinfo.AES256, 13)
	noID.ParameterID = nil
	badID := gm(securityinfo.AES256, 99)
	tests := []struct {
		name  string
		infos []securityinfo.PACEInfo
		want  *securityinfo.PACEInfo
	}{
		{"CCCD", []securityinfo.PACEInfo{g1Info()}, new(g1Info())},
		{"strongest cipher", []securityinfo.PACEInfo{gm(securityinfo.AES128, 13), gm(securityinfo.AES256, 12), gm(securityinfo.TripleDES, 17)}, new(gm(securityinfo.AES256, 12))},
		{"larger curve on a tie", []securityinfo.PACEInfo{gm(securityinfo.AES128, 13), gm(securityinfo.AES128, 16)}, new(gm(securityinfo.AES128, 16))},
		{"unsupported skipped", []securityinfo.PACEInfo{im, dh, v1, noID, badID, gm(securityinfo.TripleDES, 12)}, new(gm(securityinfo.TripleDES, 12))},
		{"none", []securityinfo.PACEInfo{im, dh, v1, noID, badID}, nil},
	}
	for _, tc := range tests {
		got, err := Select(tc.infos)
		switch {
		case tc.want == nil && err == nil:
			t.Errorf("%s: chose %+v", tc.name, got)
		case tc.want != nil && (err != nil || !got.Protocol.Equal(tc.want.Protocol) || *got.ParameterID != *tc.want.ParameterID):
			t.Errorf("%s: chose %+v (%v)", tc.name, got, err)
		}
	}
	for _, bad := range []securityinfo.PACEInfo{im, dh, v1, noID, badID} {
		if Supported(bad) == nil {
			t.Errorf("Supported(%+v) = nil", bad)
		}
	}
}

func TestPasswordValidation(t *testing.T) {
	t.Parallel()
	for _, pw := range []Password{{Kind: CAN, Value: ""}, {Kind: CAN, Value: "12a456"}, {Kind: MRZ, Value: ""}, {Kind: MRZ, Value: "T2200012\n9"}, {Kind: 3, Value: "1234"}} {
		_, err := Establish(context.Background(), iso7816.NewConn(&script{T: t}), g1Info(), pw, nil)
		if err == nil || errors.Is(err, ErrAccessDenied) || (pw.Value != "" && strings.Contains(err.Error(), pw.Value)) {
			t.Errorf("%q: %v", pw.Value, err)
		}
	}
	if s := fmt.Sprint(Password{Kind: CAN, Value: "987654"}); strings.Contains(s, "987654") {
		t.Errorf("Password prints its value: %s", s)
	}
}

// BenchmarkEstablish times the terminal side only: each suite's exchange is
// recorded once against Card with fixed randomness, then replayed, so no chip
// arithmetic is counted. APDUs and bytes per run are reported too.
func BenchmarkEstablish(b *testing.B) {
	for _, s := range suites {
		b.Run(s.name, func(b *testing.B) {
			card, err := NewCard(infoFor(s), testCAN, "", &detReader{seed: "card"})
			if err != nil {
				b.Fatal(err)
			}
			vc := &virtualCard{t: b, card: card}
			if _, err := Establish(context.Background(), iso7816.NewConn(vc), infoFor(s), Password{Kind: CAN, Value: testCAN}, &detReader{seed: "terminal"}); err != nil {
				b.Fatal(err)
			}
			var ex [][2]string
			for _, r := range vc.record {
				ex = append(ex, [2]string{hex.EncodeToString(r[0]), hex.EncodeToString(r[1])})
			}
			var stats iso7816.Stats
			for b.Loop() {
				sc := &script{T: b, Exchanges: ex}
				conn := iso7816.NewConn(sc)
				if _, err := Establish(context.Background(), conn, infoFor(s), Password{Kind: CAN, Value: testCAN}, &detReader{seed: "terminal"}); err != nil {
					b.Fatal(err)
				}
				stats = conn.Stats()
			}
			b.ReportMetric(float64(stats.APDUs), "APDUs/op")
			b.ReportMetric(float64(stats.BytesOut+stats.BytesIn), "wirebytes/op")
		})
	}
}
