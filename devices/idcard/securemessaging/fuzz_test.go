package securemessaging

import (
	"bytes"
	"context"
	"testing"

	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
)

// FuzzUnwrapResponse feeds arbitrary response APDUs to a 3DES channel in the state
// of Appendix D.4 and an AES channel; it must never panic, and whatever it
// accepts with data must have carried a MAC that verifies (checked by re-wrapping).
func FuzzUnwrapResponse(f *testing.F) {
	for _, e := range d4 {
		f.Add(unhex(f, e.response))
	}
	for _, s := range []string{"9000", "6987", "6A82", "990290008E08", "8781", "870101990290008E080000000000000000", "99029000"} {
		f.Add(unhex(f, s))
	}
	kenc, kmac, ssc := unhex(f, d4KSenc), unhex(f, d4KSmac), unhex(f, d4SSC)
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, alg := range []Algorithm{TripleDES, AES128} {
			k1, k2, s := kenc, kmac, ssc
			if alg == AES128 {
				s = append(append([]byte(nil), ssc...), ssc...)
			}
			ch, err := NewChannel(iso7816.NewConn(transportFunc(func(context.Context, []byte) ([]byte, error) { return raw, nil })), alg, k1, k2, s)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := ch.Send(context.Background(), iso7816.Command{INS: 0xB0, Ne: 4})
			if err != nil || len(resp.Data) == 0 {
				continue
			}
			// Accepted with data: the card side with the same state must produce the
			// same bytes for this data and status.
			cs, _ := NewCardSession(alg, k1, k2, s)
			cs.s.incrementSSC()
			cs.oddINS = false
			want := cs.WrapResponse(resp)
			if !bytes.Equal(want.Data, raw[:len(raw)-2]) {
				t.Fatalf("accepted response %X that the card would encode as %X", raw, want.Data)
			}
		}
	})
}

// FuzzCardUnwrapCommand feeds arbitrary command APDUs to the card side; it must
// never panic, and a command it accepts must re-protect to the same wire bytes.
func FuzzCardUnwrapCommand(f *testing.F) {
	for _, e := range d4 {
		f.Add(unhex(f, e.protected))
	}
	for _, s := range []string{"0CB0000000", "0CB0000002870100", "0CB000000A8E08010203040506070800", "00B0000004", "0CB1000000000397010000"} {
		f.Add(unhex(f, s))
	}
	kenc, kmac, ssc := unhex(f, d4KSenc), unhex(f, d4KSmac), unhex(f, d4SSC)
	f.Fuzz(func(t *testing.T, raw []byte) {
		cmd, err := iso7816.ParseCommand(raw)
		if err != nil {
			return
		}
		cs, err := NewCardSession(TripleDES, kenc, kmac, ssc)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := cs.UnwrapCommand(cmd)
		if err != nil {
			return
		}
		term, _ := newSuite(TripleDES, kenc, kmac, ssc)
		again, err := term.protectCommand(iso7816.Command{CLA: plain.CLA | (cmd.CLA & 0x0C), INS: plain.INS, P1: plain.P1, P2: plain.P2, Data: plain.Data, Ne: plain.Ne})
		if err != nil {
			t.Fatalf("re-protect: %v", err)
		}
		if !bytes.Equal(again.Data, cmd.Data) || again.CLA != cmd.CLA {
			t.Fatalf("accepted %X but it re-protects to data %X", raw, again.Data)
		}
	})
}
