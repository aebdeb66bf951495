package securemessaging

import (
	"bytes"
	"errors"
	"testing"

	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
)

func TestCardRejects(t *testing.T) {
	t.Parallel()
	key := patterned(16, 0x5A)
	// protect builds a genuine protected command from a terminal-side suite in step
	// with the card, then lets the case alter it.
	protect := func(t *testing.T, cmd iso7816.Command) iso7816.Command {
		t.Helper()
		s, err := newSuite(AES128, key, key, make([]byte, 16))
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.protectCommand(cmd)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	read := iso7816.Command{INS: 0xB0, Ne: 16}
	for _, tc := range []struct {
		name string
		cmd  func(t *testing.T) iso7816.Command
		sw   iso7816.SW
	}{
		{"plain command", func(*testing.T) iso7816.Command { return read }, iso7816.SWSMDataObjectsMissing},
		{"CLA 08 only", func(t *testing.T) iso7816.Command { c := protect(t, read); c.CLA = 0x08; return c }, iso7816.SWSMDataObjectsMissing},
		{"no data objects", func(*testing.T) iso7816.Command { return iso7816.Command{CLA: 0x0C, INS: 0xB0, Ne: 256} }, iso7816.SWSMDataObjectsMissing},
		{"no DO8E", func(t *testing.T) iso7816.Command {
			c := protect(t, read)
			c.Data = c.Data[:len(c.Data)-10]
			return c
		}, iso7816.SWSMDataObjectsMissing},
		{"MAC flipped", func(t *testing.T) iso7816.Command { c := protect(t, read); c.Data[len(c.Data)-1] ^= 1; return c }, iso7816.SWSMDataObjectsIncorrect},
		{"header changed", func(t *testing.T) iso7816.Command { c := protect(t, read); c.P2 = 0x10; return c }, iso7816.SWSMDataObjectsIncorrect},
		{"Le changed", func(t *testing.T) iso7816.Command { c := protect(t, read); c.Data[2] = 0xFF; return c }, iso7816.SWSMDataObjectsIncorrect},
		{"garbage", func(*testing.T) iso7816.Command {
			return iso7816.Command{CLA: 0x0C, INS: 0xB0, Data: []byte{0x87, 0x84, 0xFF, 0xFF, 0xFF, 0xFF}}
		}, iso7816.SWSMDataObjectsIncorrect},
		{"DO87 with odd INS", func(t *testing.T) iso7816.Command {
			c := protect(t, iso7816.Command{INS: 0xB0, Data: []byte{1, 2, 3}})
			c.INS = 0xB1 // MAC now fails too; flipping the tag instead would as well
			return c
		}, iso7816.SWSMDataObjectsIncorrect},
		{"DO97 of three bytes", func(*testing.T) iso7816.Command {
			return iso7816.Command{CLA: 0x0C, INS: 0xB0, Data: []byte{0x97, 0x03, 0, 1, 0, 0x8E, 0x08, 1, 2, 3, 4, 5, 6, 7, 8}}
		}, iso7816.SWSMDataObjectsIncorrect},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cs, err := NewCardSession(AES128, key, key, make([]byte, 16))
			if err != nil {
				t.Fatal(err)
			}
			got, err := cs.UnwrapCommand(tc.cmd(t))
			var ce *CommandError
			if !errors.As(err, &ce) || ce.SW != tc.sw {
				t.Fatalf("err = %v, want CommandError %s", err, tc.sw)
			}
			if !iso7816.IsStatus(err, tc.sw) {
				t.Errorf("iso7816.IsStatus(err, %s) = false", tc.sw)
			}
			if got.Data != nil || got.INS != 0 {
				t.Errorf("command returned with error: %+v", got)
			}
			if !cs.Aborted() {
				t.Error("session not aborted")
			}
			// A genuine command is refused too: the session is gone.
			if _, err := cs.UnwrapCommand(protect(t, read)); !iso7816.IsStatus(err, iso7816.SWSMDataObjectsMissing) {
				t.Errorf("after abort: err = %v, want 6987", err)
			}
			if r := cs.WrapResponse(iso7816.Response{Data: []byte{1}, SW: iso7816.SWOK}); r.SW != iso7816.SWSMDataObjectsMissing || r.Data != nil {
				t.Errorf("WrapResponse after abort = %X %s, want plain 6987", r.Data, r.SW)
			}
		})
	}
}

// A command whose DO'87' decrypts to bad padding is refused only after the MAC has
// been checked, with 6988.
func TestCardRejectsBadPaddingAfterMAC(t *testing.T) {
	t.Parallel()
	key := patterned(16, 0x77)
	s, err := newSuite(AES128, key, key, make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	s.incrementSSC()
	header := Pad([]byte{0x0C, 0x22, 0x41, 0xA4}, 16)
	ct := make([]byte, 16)
	cbcEncrypt(s, s.iv(), ct, patterned(16, 3)) // no 80 00.. padding
	do87 := append([]byte{0x87, 17, 0x01}, ct...)
	data := append(append(do87, 0x8E, 0x08), s.mac(header, do87)...)
	cs, err := NewCardSession(AES128, key, key, make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.UnwrapCommand(iso7816.Command{CLA: 0x0C, INS: 0x22, P1: 0x41, P2: 0xA4, Data: data, Ne: 256})
	if !iso7816.IsStatus(err, iso7816.SWSMDataObjectsIncorrect) {
		t.Fatalf("err = %v, want 6988", err)
	}
}

func TestPadUnpad(t *testing.T) {
	t.Parallel()
	for _, bs := range []int{8, 16} {
		for n := 0; n <= 3*bs; n++ {
			in := patterned(n, byte(n))
			p := Pad(in, bs)
			if len(p)%bs != 0 || len(p) <= n || len(p) > n+bs {
				t.Fatalf("Pad(%d bytes, %d) gave %d bytes", n, bs, len(p))
			}
			out, err := Unpad(p, bs)
			if err != nil || !bytes.Equal(out, in) {
				t.Fatalf("Unpad(Pad(%d bytes)) = %X, %v", n, out, err)
			}
		}
	}
	for _, bad := range []string{"", "00000000000000", "0000000000000000", "8000000000000000" + "0000000000000000", "41424344454647FF"} {
		b := unhex(t, bad)
		if _, err := Unpad(b, 8); err == nil {
			t.Errorf("Unpad(%s) accepted", bad)
		}
	}
}

func TestMAC(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		alg       Algorithm
		key, msg  string
		want      string
		reference string
	}{
		// ICAO 9303 Part 11 Appendix D.3: M_IFD over E_IFD with Kmac.
		{"ICAO D.3 M_IFD", TripleDES, "7962D9ECE03D1ACD4C76089DCE131543",
			"72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2", "5F1448EEA8AD90A7", "9303-11 D.3"},
		// ICAO 9303 Part 11 Appendix D.3: M_IC over E_IC.
		{"ICAO D.3 M_IC", TripleDES, "7962D9ECE03D1ACD4C76089DCE131543",
			"46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F", "2F2D235D074D7449", "9303-11 D.3"},
		// RFC 4493 §4 / NIST SP 800-38B D.1-D.3, truncated to 8 bytes.
		{"AES-128 CMAC empty", AES128, "2B7E151628AED2A6ABF7158809CF4F3C", "", "BB1D6929E9593728", "RFC 4493 example 1"},
		{"AES-128 CMAC 16 bytes", AES128, "2B7E151628AED2A6ABF7158809CF4F3C", "6BC1BEE22E409F96E93D7E117393172A", "070A16B46B4D4144", "RFC 4493 example 2"},
		{"AES-192 CMAC empty", AES192, "8E73B0F7DA0E6452C810F32B809079E562F8EAD2522C6B7B", "", "D17DDF46ADAACDE5", "SP 800-38B D.2"},
		{"AES-256 CMAC empty", AES256, "603DEB1015CA71BE2B73AEF0857D77811F352C073B6108D72D9810A30914DFF4", "", "028962F61B7BF89E", "SP 800-38B D.3"},
	} {
		got, err := MAC(tc.alg, unhex(t, tc.key), unhex(t, tc.msg))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !bytes.Equal(got, unhex(t, tc.want)) {
			t.Errorf("%s (%s): MAC = %X, want %s", tc.name, tc.reference, got, tc.want)
		}
	}
	if _, err := MAC(AES128, make([]byte, 15), nil); err == nil {
		t.Error("MAC accepted a 15-byte key")
	}
}
