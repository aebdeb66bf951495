package bac

import (
	"bytes"
	"context"
	"testing"

	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
)

// FuzzAuthenticateResponse gives Authenticate an arbitrary answer to EXTERNAL
// AUTHENTICATE: it must never panic and never succeed, since only the real chip
// (or the ICAO answer, seeded) can produce a valid cryptogram.
func FuzzAuthenticateResponse(f *testing.F) {
	f.Add(unhex(f, d3RespData+"9000"))
	f.Add(unhex(f, "6300"))
	f.Add(unhex(f, d3RespData[:40]+"9000"))
	f.Add([]byte{})
	genuine := unhex(f, d3RespData+"9000")
	f.Fuzz(func(t *testing.T, answer []byte) {
		calls := 0
		tr := transportFunc(func(context.Context, []byte) ([]byte, error) {
			calls++
			if calls == 1 {
				return unhex(t, d3RndIC+"9000"), nil
			}
			return answer, nil
		})
		ch, err := Authenticate(context.Background(), iso7816.NewConn(tr), d1KeyInput, bytes.NewReader(unhex(t, d3RndIFD+d3KIFD)))
		if (err == nil) != bytes.Equal(answer, genuine) {
			t.Fatalf("answer %X: err = %v, channel %v", answer, err, ch != nil)
		}
	})
}

// FuzzCardProcess feeds arbitrary commands to the chip side: no panic, and no
// session without a genuine cryptogram.
func FuzzCardProcess(f *testing.F) {
	f.Add(unhex(f, "0084000008"))
	f.Add(unhex(f, "0082000028"+d3CmdData+"28"))
	f.Add(unhex(f, "00820000"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		cmd, err := iso7816.ParseCommand(raw)
		if err != nil {
			return
		}
		card := NewCard(d1KeyInput, bytes.NewReader(unhex(t, d3RndIC+d3KIC)))
		card.Process(iso7816.Command{INS: 0x84, Ne: 8})
		_, sess := card.Process(cmd)
		if sess != nil && !bytes.Equal(cmd.Data, unhex(t, d3CmdData)) {
			t.Fatalf("session granted for %X", raw)
		}
	})
}

type transportFunc func(context.Context, []byte) ([]byte, error)

func (f transportFunc) Transmit(ctx context.Context, b []byte) ([]byte, error) { return f(ctx, b) }
