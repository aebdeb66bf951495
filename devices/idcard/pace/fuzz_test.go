package pace

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
)

// replay answers commands with canned responses in order, whatever the command.
type replay struct{ resps [][]byte }

func (r *replay) Transmit(_ context.Context, _ []byte) ([]byte, error) {
	if len(r.resps) == 0 {
		return nil, errors.New("no more answers")
	}
	out := r.resps[0]
	r.resps = r.resps[1:]
	return out, nil
}

// FuzzEstablish gives the terminal hostile answers to the four GENERAL
// AUTHENTICATE commands (MSE:Set AT succeeds). Nothing may panic, and PACE can
// only succeed if the answers carry the genuine chip token: no answer forges it.
// It runs on P-256, whose assembly arithmetic keeps the fuzzer fast; the seeds
// are a recorded genuine run.
func FuzzEstablish(f *testing.F) {
	s := suites[1]
	card, err := NewCard(infoFor(s), testCAN, "", &detReader{seed: "card"})
	if err != nil {
		f.Fatal(err)
	}
	vc := &virtualCard{t: f, card: card}
	if _, err := Establish(context.Background(), iso7816.NewConn(vc), infoFor(s), Password{Kind: CAN, Value: testCAN}, &detReader{seed: "terminal"}); err != nil {
		f.Fatal(err)
	}
	rec := vc.record
	token := rec[4][1][4:12] // 7C 0A 86 08 <token> 90 00
	f.Add(rec[1][1], rec[2][1], rec[3][1], rec[4][1])
	f.Add([]byte{0x90, 0x00}, []byte{0x7C, 0x00, 0x90, 0x00}, []byte{0x63, 0xC1}, []byte{})
	f.Fuzz(func(t *testing.T, r1, r2, r3, r4 []byte) {
		tr := &replay{resps: [][]byte{{0x90, 0x00}, r1, r2, r3, r4}}
		ch, err := Establish(context.Background(), iso7816.NewConn(tr), infoFor(s), Password{Kind: CAN, Value: testCAN}, &detReader{seed: "terminal"})
		if err == nil && (ch == nil || !bytes.Contains(r4, token)) {
			t.Fatalf("PACE succeeded on forged answers")
		}
	})
}

// FuzzCardProcess sends hostile command sequences to the chip side: no panic, and
// a session only ever comes with a 9000 answer.
func FuzzCardProcess(f *testing.F) {
	var seq []byte
	for _, e := range g1Exchanges() {
		c := unhex(f, e[0])
		seq = append(seq, byte(len(c)))
		seq = append(seq, c...)
	}
	f.Add(seq)
	f.Fuzz(func(t *testing.T, b []byte) {
		card, err := NewCard(g1Info(), testCAN, g1MRZ, bytes.NewReader(unhex(t, g1Nonce+g1SkMapIC+g1SkEphIC)))
		if err != nil {
			t.Fatal(err)
		}
		for len(b) > 0 {
			n := int(b[0])
			b = b[1:]
			if n > len(b) {
				n = len(b)
			}
			cmd, err := iso7816.ParseCommand(b[:n])
			b = b[n:]
			if err != nil {
				continue
			}
			resp, sess := card.Process(cmd)
			if sess != nil && resp.SW != iso7816.SWOK {
				t.Fatalf("session with SW %s", resp.SW)
			}
		}
	})
}
