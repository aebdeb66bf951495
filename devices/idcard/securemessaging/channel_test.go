package securemessaging

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
)

// ICAO 9303 Part 11 Appendix D.4: the session keys and SSC that BAC (D.3) yields,
// then SELECT EF.COM and two READ BINARY commands.
const (
	d4KSenc = "979EC13B1CBFE9DCD01AB0FED307EAE5"
	d4KSmac = "F1CB1F1FB5ADF208806B89DC579DC1F8"
	d4SSC   = "887022120C06C226"
)

type smStep struct {
	name      string
	plain     iso7816.Command
	protected string
	response  string
	data      string // decrypted response data
	sscAfter  string
}

var d4 = []smStep{
	{
		name:      "SELECT EF.COM",
		plain:     iso7816.Command{CLA: 0x00, INS: 0xA4, P1: 0x02, P2: 0x0C, Data: []byte{0x01, 0x1E}},
		protected: "0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800",
		response:  "990290008E08FA855A5D4C50A8ED9000",
		sscAfter:  "887022120C06C228",
	},
	{
		name:      "READ BINARY 4 bytes",
		plain:     iso7816.Command{CLA: 0x00, INS: 0xB0, P1: 0x00, P2: 0x00, Ne: 4},
		protected: "0CB000000D9701048E08ED6705417E96BA5500",
		response:  "8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000",
		data:      "60145F01",
		sscAfter:  "887022120C06C22A",
	},
	{
		name:      "READ BINARY 18 bytes from offset 4",
		plain:     iso7816.Command{CLA: 0x00, INS: 0xB0, P1: 0x00, P2: 0x04, Ne: 0x12},
		protected: "0CB000040D9701128E082EA28A70F3C7B53500",
		response:  "871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000",
		data:      "04303130365F36063034303030305C026175",
		sscAfter:  "887022120C06C22C",
	},
}

// An AES-256 session reading EF.COM, as published in the test suite of gmrtd
// (iso7816/nfc_session_test.go, from a chip after PACE): an AES vector that does
// not come from this code.
var aes256Capture = []smStep{
	{
		name:      "SELECT EF.COM",
		plain:     iso7816.Command{INS: 0xA4, P1: 0x02, P2: 0x0C, Data: []byte{0x01, 0x1E}},
		protected: "0CA4020C1D8711011D35E7EB510E21A0DD12380D9AD2B92D8E0828CB68B81D3FAFC000",
		response:  "990290008E08E083EAA61ADABFCE9000",
		sscAfter:  "00000000000000000000000000000022",
	},
	{
		name:      "READ BINARY 4 bytes",
		plain:     iso7816.Command{INS: 0xB0, Ne: 4},
		protected: "0CB000000D9701048E084AFC933E0CDBE5F000",
		response:  "871101D8059A9CF835105082CA2B1837E4AEC0990290008E08B36DB56761D706BB9000",
		data:      "60185F01",
		sscAfter:  "00000000000000000000000000000024",
	},
	{
		name:      "READ BINARY 22 bytes from offset 4",
		plain:     iso7816.Command{INS: 0xB0, P2: 0x04, Ne: 0x16},
		protected: "0CB000040D9701168E0811F7EFC907D1F27400",
		response:  "87210142E919C115FAF69350B01813D77A9E8D91912A7F717AFD073F199070E61B79C6990290008E083382E3D983F441369000",
		data:      "04303130385F36063034303030305C06617563766D6E",
		sscAfter:  "00000000000000000000000000000026",
	},
}

var vectors = []struct {
	name            string
	alg             Algorithm
	kenc, kmac, ssc string
	steps           []smStep
}{
	{"ICAO 9303-11 D.4 (3DES)", TripleDES, d4KSenc, d4KSmac, d4SSC, d4},
	{"AES-256 capture", AES256,
		"74B94F408BBB2CD92571FD5B6370A94CCE7A2FA42AE3EB4DA47B97CE6EAA24C6",
		"9E28D5D9FF1D979BE752E8926BF0E1D35A440FC0AEFC4AA3BC5610055AC8B113",
		"00000000000000000000000000000020", aes256Capture},
}

func TestVectorsTerminal(t *testing.T) {
	t.Parallel()
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			sc := &script{T: t}
			for _, e := range v.steps {
				sc.Exchanges = append(sc.Exchanges, exchange{e.protected, e.response})
			}
			ch, err := NewChannel(iso7816.NewConn(sc), v.alg, unhex(t, v.kenc), unhex(t, v.kmac), unhex(t, v.ssc))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range v.steps {
				resp, err := ch.Send(context.Background(), e.plain)
				if err != nil {
					t.Fatalf("%s: %v", e.name, err)
				}
				if resp.SW != iso7816.SWOK || !bytes.Equal(resp.Data, unhex(t, e.data)) {
					t.Errorf("%s: got %X %s, want %s 9000", e.name, resp.Data, resp.SW, e.data)
				}
				if !bytes.Equal(ch.s.ssc, unhex(t, e.sscAfter)) {
					t.Errorf("%s: SSC %X, want %s", e.name, ch.s.ssc, e.sscAfter)
				}
			}
			sc.Done()
		})
	}
}

// The same exchanges seen from the chip: the card side must recover the plain
// commands and produce byte-identical responses (both ciphers are deterministic
// here: 3DES has a zero IV, AES derives it from the SSC).
func TestVectorsCard(t *testing.T) {
	t.Parallel()
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			cs, err := NewCardSession(v.alg, unhex(t, v.kenc), unhex(t, v.kmac), unhex(t, v.ssc))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range v.steps {
				cmd, err := iso7816.ParseCommand(unhex(t, e.protected))
				if err != nil {
					t.Fatal(err)
				}
				got, err := cs.UnwrapCommand(cmd)
				if err != nil {
					t.Fatalf("%s: %v", e.name, err)
				}
				want := e.plain
				if got.CLA != want.CLA || got.INS != want.INS || got.P1 != want.P1 || got.P2 != want.P2 ||
					got.Ne != want.Ne || !bytes.Equal(got.Data, want.Data) {
					t.Errorf("%s: unwrapped %+v, want %+v", e.name, got, want)
				}
				resp := cs.WrapResponse(iso7816.Response{Data: unhex(t, e.data), SW: iso7816.SWOK})
				if !bytes.Equal(resp.Bytes(), unhex(t, e.response)) {
					t.Errorf("%s: response\n got %X\nwant %s", e.name, resp.Bytes(), e.response)
				}
			}
		})
	}
}

func TestMaxShortRead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		alg  Algorithm
		want int
	}{{TripleDES, 0xE7}, {AES128, 0xDF}, {AES192, 0xDF}, {AES256, 0xDF}} {
		if got := maxShortRead(tc.alg); got != tc.want {
			t.Errorf("%s: maxShortRead = %#x, want %#x", tc.alg, got, tc.want)
		}
		// Check the bound against real wrapped responses: the maximum fits the 256
		// bytes of a short response, one more byte does not.
		k := make([]byte, tc.alg.KeyLen())
		cs, err := NewCardSession(tc.alg, k, k, make([]byte, tc.alg.BlockSize()))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(cs.WrapResponse(iso7816.Response{Data: make([]byte, tc.want), SW: iso7816.SWOK}).Data); n > iso7816.MaxShortNe {
			t.Errorf("%s: protected response to %d bytes is %d bytes", tc.alg, tc.want, n)
		}
		if n := len(cs.WrapResponse(iso7816.Response{Data: make([]byte, tc.want+1), SW: iso7816.SWOK}).Data); n <= iso7816.MaxShortNe {
			t.Errorf("%s: protected response to %d bytes is only %d bytes; bound not tight", tc.alg, tc.want+1, n)
		}
	}
}

// patterned returns n bytes that differ from block to block, so a CBC or IV error
// cannot hide behind repeated content.
func patterned(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		cmd      iso7816.Command
		respLen  int
		sw       iso7816.SW
		extended bool // needs an extended-length reader
	}{
		{name: "case 1", cmd: iso7816.Command{INS: 0x44}},
		{name: "case 3 select", cmd: iso7816.Command{INS: 0xA4, P1: 0x02, P2: 0x0C, Data: []byte{0x01, 0x1E}}},
		{name: "case 2 read", cmd: iso7816.Command{INS: 0xB0, Ne: 0x20}, respLen: 0x20},
		{name: "case 2 read Le=256", cmd: iso7816.Command{INS: 0xB0, Ne: 256}, respLen: 200},
		{name: "case 4 block-aligned data", cmd: iso7816.Command{INS: 0x88, Data: patterned(16, 1), Ne: 256}, respLen: 128},
		{name: "chaining CLA kept", cmd: iso7816.Command{CLA: 0x10, INS: 0x86, Data: patterned(40, 2)}},
		{name: "odd INS uses DO85", cmd: iso7816.Command{INS: 0xB1, P1: 0x01, P2: 0x1E, Data: []byte{0x54, 0x02, 0x00, 0x10}, Ne: 0x40}, respLen: 0x44},
		{name: "warning status", cmd: iso7816.Command{INS: 0xB0, Ne: 0x40}, respLen: 0x10, sw: 0x6282},
		{name: "error status", cmd: iso7816.Command{INS: 0xA4, P1: 0x02, P2: 0x0C, Data: []byte{0x01, 0x0B}}, sw: iso7816.SWFileNotFound},
		{name: "extended Ne", cmd: iso7816.Command{INS: 0xB0, Ne: 1000}, respLen: 1000, extended: true},
		{name: "extended Ne 65536", cmd: iso7816.Command{INS: 0xB0, Ne: 65536}, respLen: 3000, extended: true},
		{name: "extended body", cmd: iso7816.Command{INS: 0x2A, Data: patterned(300, 3), Ne: 10}, respLen: 10, extended: true},
	}
	for _, alg := range []Algorithm{TripleDES, AES128, AES192, AES256} {
		for _, readerExt := range []bool{false, true} {
			for _, tc := range cases {
				name := alg.String() + "/" + tc.name
				if readerExt {
					name += "/extended reader"
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					kenc, kmac := patterned(alg.KeyLen(), 0x11), patterned(alg.KeyLen(), 0x22)
					ssc := patterned(alg.BlockSize(), 0x33)
					cs, err := NewCardSession(alg, kenc, kmac, ssc)
					if err != nil {
						t.Fatal(err)
					}
					want := iso7816.Response{Data: patterned(tc.respLen, 0x44), SW: tc.sw}
					if want.SW == 0 {
						want.SW = iso7816.SWOK
					}
					card := &cardTransport{cs: cs, app: func(iso7816.Command) iso7816.Response { return want }}
					conn := iso7816.NewConn(card)
					conn.Extended = readerExt
					ch, err := NewChannel(conn, alg, kenc, kmac, ssc)
					if err != nil {
						t.Fatal(err)
					}
					// Two rounds: the second proves both SSCs stayed in step.
					for round := 0; round < 2; round++ {
						got, err := ch.Send(context.Background(), tc.cmd)
						if tc.extended && !readerExt {
							if !errors.Is(err, iso7816.ErrNeedsExtended) {
								t.Fatalf("err = %v, want ErrNeedsExtended", err)
							}
							// Nothing was sent: the channel must still work.
							if _, err := ch.Send(context.Background(), iso7816.Command{INS: 0xB0, Ne: 8}); err != nil {
								t.Fatalf("after ErrNeedsExtended: %v", err)
							}
							return
						}
						if err != nil {
							t.Fatalf("round %d: %v", round, err)
						}
						if got.SW != want.SW || !bytes.Equal(got.Data, want.Data) {
							t.Fatalf("round %d: got %X %s, want %X %s", round, got.Data, got.SW, want.Data, want.SW)
						}
						seen := card.seen[len(card.seen)-1]
						c := tc.cmd
						if seen.CLA != c.CLA || seen.INS != c.INS || seen.P1 != c.P1 || seen.P2 != c.P2 ||
							seen.Ne != c.Ne || !bytes.Equal(seen.Data, c.Data) {
							t.Fatalf("card saw %+v, want %+v", seen, c)
						}
						if wire, _ := iso7816.ParseCommand(card.last); wire.CLA != c.CLA|0x0C {
							t.Errorf("wire CLA %02X, want %02X", wire.CLA, c.CLA|0x0C)
						}
						if c.INS&1 == 1 && len(c.Data) > 0 && card.last[5] != 0x85 && card.last[7] != 0x85 {
							t.Errorf("odd INS command not in DO'85': %X", card.last)
						}
					}
				})
			}
		}
	}
}

// respondWith is a transport whose responses are computed from a genuine card
// session and then altered.
func tamperedChannel(t *testing.T, alter func([]byte) []byte) (*Channel, *cardTransport) {
	t.Helper()
	k := patterned(16, 9)
	ssc := make([]byte, 16)
	cs, err := NewCardSession(AES128, k, k, ssc)
	if err != nil {
		t.Fatal(err)
	}
	card := &cardTransport{cs: cs, app: func(c iso7816.Command) iso7816.Response {
		return iso7816.Response{Data: []byte("secret DG1 bytes"), SW: iso7816.SWOK}
	}}
	tr := transportFunc(func(ctx context.Context, raw []byte) ([]byte, error) {
		b, err := card.Transmit(ctx, raw)
		if err != nil {
			return nil, err
		}
		return alter(b), nil
	})
	ch, err := NewChannel(iso7816.NewConn(tr), AES128, k, k, ssc)
	if err != nil {
		t.Fatal(err)
	}
	return ch, card
}

type transportFunc func(context.Context, []byte) ([]byte, error)

func (f transportFunc) Transmit(ctx context.Context, b []byte) ([]byte, error) { return f(ctx, b) }

func TestTamperedResponse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		alter func([]byte) []byte
	}{
		{"MAC byte flipped", func(b []byte) []byte { b[len(b)-3] ^= 1; return b }},
		{"cryptogram byte flipped", func(b []byte) []byte { b[5] ^= 0x80; return b }},
		{"DO99 changed", func(b []byte) []byte {
			i := bytes.Index(b, []byte{0x99, 0x02, 0x90, 0x00})
			b[i+2], b[i+3] = 0x62, 0x82
			return b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ch, _ := tamperedChannel(t, tc.alter)
			resp, err := ch.Send(context.Background(), iso7816.Command{INS: 0xB0, Ne: 16})
			if !errors.Is(err, ErrMAC) {
				t.Fatalf("err = %v, want ErrMAC", err)
			}
			if resp.Data != nil {
				t.Errorf("data returned despite MAC failure: %X", resp.Data)
			}
			_, err = ch.Send(context.Background(), iso7816.Command{INS: 0xB0, Ne: 16})
			if !errors.Is(err, ErrClosed) {
				t.Errorf("second Send err = %v, want ErrClosed", err)
			}
		})
	}
}

// suiteResponse builds a response with a valid MAC around arbitrary DOs, so the
// checks after the MAC (padding, DO'99' length, outer status) can be reached.
func macdResponse(t *testing.T, s *suite, dos []byte, sw iso7816.SW) []byte {
	t.Helper()
	s.incrementSSC()
	r := append(append([]byte(nil), dos...), 0x8E, 0x08)
	r = append(r, s.mac(dos)...)
	return append(r, byte(sw>>8), byte(sw))
}

func TestMalformedResponses(t *testing.T) {
	t.Parallel()
	key := patterned(16, 5)
	rawCBC := func(s *suite, plain []byte) []byte {
		// Encrypts without adding padding, for bad-padding cases.
		out := make([]byte, len(plain))
		ssc := append([]byte(nil), s.ssc...)
		s.incrementSSC()
		iv := s.iv()
		s.ssc = ssc
		cbcEncrypt(s, iv, out, plain)
		return out
	}
	for _, tc := range []struct {
		name    string
		resp    func(s *suite) []byte // s mirrors the card's counters
		wantErr error
		wantSW  iso7816.SW
	}{
		{name: "plain 9000", resp: func(*suite) []byte { return []byte{0x90, 0x00} }, wantErr: ErrMalformed},
		{name: "plain 6987", resp: func(*suite) []byte { return []byte{0x69, 0x87} }, wantErr: ErrAborted},
		{name: "plain 6988", resp: func(*suite) []byte { return []byte{0x69, 0x88} }, wantErr: ErrAborted},
		{name: "plain 6A82 passes through", resp: func(*suite) []byte { return []byte{0x6A, 0x82} }, wantSW: iso7816.SWFileNotFound},
		{name: "no DO8E", resp: func(*suite) []byte { return unhex(t, "990290009000") }, wantErr: ErrMalformed},
		{name: "no DO99", resp: func(s *suite) []byte { return macdResponse(t, s, nil, iso7816.SWOK) }, wantErr: ErrMalformed},
		{name: "short DO8E", resp: func(*suite) []byte { return unhex(t, "990290008E0401020304"+"9000") }, wantErr: ErrMalformed},
		{name: "truncated DO87", resp: func(*suite) []byte { return unhex(t, "8720010203"+"9000") }, wantErr: ErrMalformed},
		{name: "truncated length", resp: func(*suite) []byte { return unhex(t, "8782"+"9000") }, wantErr: ErrMalformed},
		{name: "unknown DO", resp: func(*suite) []byte { return unhex(t, "5302AAAA990290008E080102030405060708"+"9000") }, wantErr: ErrMalformed},
		{name: "DO99 before DO87", resp: func(*suite) []byte {
			return unhex(t, "99029000871101000102030405060708090A0B0C0D0E0F8E080102030405060708"+"9000")
		}, wantErr: ErrMalformed},
		{name: "data after DO8E", resp: func(*suite) []byte { return unhex(t, "990290008E08010203040506070899029000"+"9000") }, wantErr: ErrMalformed},
		{name: "DO99 one byte", resp: func(s *suite) []byte { return macdResponse(t, s, unhex(t, "990190"), iso7816.SWOK) }, wantErr: ErrMalformed},
		{name: "DO99 error under outer 9000", resp: func(s *suite) []byte {
			return macdResponse(t, s, unhex(t, "99026A82"), iso7816.SWOK)
		}, wantErr: ErrMalformed},
		{name: "DO99 rules over outer error", resp: func(s *suite) []byte {
			return macdResponse(t, s, unhex(t, "99026282"), 0x6F00)
		}, wantSW: 0x6282},
		{name: "DO87 without padding indicator", resp: func(s *suite) []byte {
			ct := rawCBC(s, Pad([]byte("x"), 16))
			return macdResponse(t, s, append(append([]byte{0x87, 17, 0x02}, ct...), 0x99, 0x02, 0x90, 0x00), iso7816.SWOK)
		}, wantErr: ErrMalformed},
		{name: "DO87 not whole blocks", resp: func(s *suite) []byte {
			return macdResponse(t, s, unhex(t, "870401AABBCC99029000"), iso7816.SWOK)
		}, wantErr: ErrMalformed},
		{name: "padding without 80", resp: func(s *suite) []byte {
			ct := rawCBC(s, patterned(16, 0x01))
			return macdResponse(t, s, append(append([]byte{0x87, 17, 0x01}, ct...), 0x99, 0x02, 0x90, 0x00), iso7816.SWOK)
		}, wantErr: ErrMalformed},
		{name: "padding longer than a block", resp: func(s *suite) []byte {
			p := make([]byte, 32)
			p[0], p[1] = 0x41, 0x80
			ct := rawCBC(s, p)
			return macdResponse(t, s, append(append([]byte{0x87, 33, 0x01}, ct...), 0x99, 0x02, 0x90, 0x00), iso7816.SWOK)
		}, wantErr: ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mirror, err := newSuite(AES128, key, key, make([]byte, 16))
			if err != nil {
				t.Fatal(err)
			}
			mirror.incrementSSC() // the command
			raw := tc.resp(mirror)
			ch, err := NewChannel(iso7816.NewConn(transportFunc(func(context.Context, []byte) ([]byte, error) { return raw, nil })),
				AES128, key, key, make([]byte, 16))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := ch.Send(context.Background(), iso7816.Command{INS: 0xB0, Ne: 16})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if resp.Data != nil {
					t.Errorf("data returned with error: %X", resp.Data)
				}
				if _, err := ch.Send(context.Background(), iso7816.Command{INS: 0xB0, Ne: 1}); !errors.Is(err, ErrClosed) {
					t.Errorf("Send after error: %v, want ErrClosed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.SW != tc.wantSW || resp.Data != nil {
				t.Errorf("got %X %s, want %s without data", resp.Data, resp.SW, tc.wantSW)
			}
		})
	}
}

func TestSendAfterTransportErrorFailsFast(t *testing.T) {
	t.Parallel()
	calls := 0
	tr := transportFunc(func(context.Context, []byte) ([]byte, error) {
		calls++
		return nil, errors.New("card removed")
	})
	ch, err := NewChannel(iso7816.NewConn(tr), AES128, make([]byte, 16), make([]byte, 16), make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Send(context.Background(), iso7816.Command{INS: 0xB0, Ne: 1}); err == nil {
		t.Fatal("no error from failing transport")
	}
	if _, err := ch.Send(context.Background(), iso7816.Command{INS: 0xB0, Ne: 1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
	if calls != 1 {
		t.Errorf("transport called %d times, want 1", calls)
	}
}

func TestNewChannelRejectsBadParameters(t *testing.T) {
	t.Parallel()
	inner := iso7816.NewConn(transportFunc(nil))
	k16, k24 := make([]byte, 16), make([]byte, 24)
	for _, tc := range []struct {
		name            string
		alg             Algorithm
		kenc, kmac, ssc []byte
	}{
		{"unknown algorithm", Algorithm(9), k16, k16, k16},
		{"3DES with 8-byte SSC needs 16-byte keys", TripleDES, k24, k24, k16[:8]},
		{"3DES SSC of 16", TripleDES, k16, k16, k16},
		{"AES-192 key of 16", AES192, k16, k16, k16},
		{"AES SSC of 8", AES128, k16, k16, k16[:8]},
		{"MAC key length", AES128, k16, k24, k16},
	} {
		if _, err := NewChannel(inner, tc.alg, tc.kenc, tc.kmac, tc.ssc); err == nil {
			t.Errorf("%s: NewChannel accepted", tc.name)
		}
		if _, err := NewCardSession(tc.alg, tc.kenc, tc.kmac, tc.ssc); err == nil {
			t.Errorf("%s: NewCardSession accepted", tc.name)
		}
	}
	if _, err := NewChannel(nil, AES128, k16, k16, k16); err == nil {
		t.Error("nil inner accepted")
	}
}
