package iso7816

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"testing"
)

func TestCommandBytes(t *testing.T) {
	t.Parallel()
	data300 := bytes.Repeat([]byte{0xAB}, 300)
	tests := []struct {
		name     string
		cmd      Command
		extended bool
		want     string
		wantErr  error
	}{
		{"case 1", Command{CLA: 0x00, INS: 0xA4, P1: 0x00, P2: 0x0C}, false, "00A4000C", nil},
		{"case 2S Le=256", Command{INS: 0xB0, Ne: 256}, false, "00B0000000", nil},
		{"case 2S Le=0xDF", Command{INS: 0xB0, P1: 0x9C, Ne: 0xDF}, false, "00B09C00DF", nil},
		{"case 3S", Command{INS: 0xA4, P1: 2, P2: 0x0C, Data: []byte{0x01, 0x1C}}, false, "00A4020C02011C", nil},
		{"case 4S", Command{INS: 0x88, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Ne: 256}, false, "00880000080102030405060708" + "00", nil},
		{"case 2E Le=65536", Command{INS: 0xB0, Ne: 65536}, true, "00B00000000000", nil},
		{"case 2E Le=0x4800", Command{INS: 0xB0, Ne: 0x4800}, true, "00B00000004800", nil},
		{"case 4E", Command{INS: 0x86, Data: []byte{0x7C, 0x00}, Ne: 65536}, true, "008600000000027C000000", nil},
		{"extended allowed but short fits", Command{INS: 0xB0, Ne: 0xDF}, false, "00B00000DF", nil},
		{"needs extended", Command{INS: 0xB0, Ne: 1000}, false, "", ErrNeedsExtended},
		{"long data needs extended", Command{INS: 0xD6, Data: data300}, false, "", ErrNeedsExtended},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.cmd.Bytes(tt.extended)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h := hex.EncodeToString(got); !equalFoldHex(h, tt.want) {
				t.Errorf("Bytes = %s, want %s", h, tt.want)
			}
			back, err := ParseCommand(got)
			if err != nil {
				t.Fatalf("ParseCommand: %v", err)
			}
			if back.INS != tt.cmd.INS || back.Ne != tt.cmd.Ne || !bytes.Equal(back.Data, tt.cmd.Data) {
				t.Errorf("round trip %+v != %+v", back, tt.cmd)
			}
		})
	}
}

func equalFoldHex(a, b string) bool { return bytes.EqualFold([]byte(a), []byte(b)) }

func TestParseCommandRejects(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"", "00", "00A400", "00A4000C0301", "00A4000C020102FFFF", "00B000000000", "00B0000000000201"} {
		b, _ := hex.DecodeString(h)
		if _, err := ParseCommand(b); err == nil {
			t.Errorf("ParseCommand(%s) accepted", h)
		}
	}
}

func TestParseResponse(t *testing.T) {
	t.Parallel()
	r, err := ParseResponse([]byte{0x01, 0x02, 0x90, 0x00})
	if err != nil || !r.OK() || !bytes.Equal(r.Data, []byte{1, 2}) || r.Err() != nil {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := ParseResponse([]byte{0x90}); err == nil {
		t.Error("one-byte response accepted")
	}
	r, _ = ParseResponse([]byte{0x6A, 0x82})
	if !IsStatus(r.Err(), SWFileNotFound) || r.Err().Error() != "card answered 6A82 (file not found)" {
		t.Errorf("Err = %v", r.Err())
	}
	if got := (&StatusError{SW: 0x63C2}).Error(); got != "card answered 63C2 (verification failed, 2 tries left)" {
		t.Errorf("63C2: %s", got)
	}
}

// script is a Transport answering from a list and recording the commands.
type script struct {
	answers [][]byte
	sent    []string
}

func (s *script) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	s.sent = append(s.sent, hex.EncodeToString(cmd))
	if len(s.answers) == 0 {
		return nil, errors.New("no more answers")
	}
	a := s.answers[0]
	s.answers = s.answers[1:]
	return a, nil
}

func h(s string) []byte { b, _ := hex.DecodeString(s); return b }

func TestConnGetResponseAndWrongLe(t *testing.T) {
	t.Parallel()
	s := &script{answers: [][]byte{h("6104"), h("010203046102"), h("05069000")}}
	c := NewConn(s)
	r, err := c.Send(context.Background(), Command{INS: 0x88, Data: []byte{1}, Ne: 256})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Data, []byte{1, 2, 3, 4, 5, 6}) || !r.OK() {
		t.Errorf("data %x sw %s", r.Data, r.SW)
	}
	if want := []string{"00880000010100", "00c0000004", "00c0000002"}; !equalStrings(s.sent, want) {
		t.Errorf("sent %v, want %v", s.sent, want)
	}
	var traces []Trace
	s2 := &script{answers: [][]byte{h("6104"), h("010203046102"), h("05069000")}}
	c2 := NewConn(s2)
	c2.Trace = func(tr Trace) { traces = append(traces, tr) }
	if _, err := c2.Send(context.Background(), Command{INS: 0x88, Data: []byte{1}, Ne: 256}); err != nil {
		t.Fatal(err)
	}
	if len(traces) != 3 || traces[0].INS != 0x88 || traces[1].INS != 0xC0 || traces[0].SW != 0x6104 || traces[2].ResponseLen != 4 || traces[0].CommandLen != 7 {
		t.Errorf("traces %+v", traces)
	}
	st := c.Stats()
	if st.APDUs != 3 || st.BytesIn != 2+6+4 {
		t.Errorf("stats %+v", st)
	}

	s = &script{answers: [][]byte{h("6C10"), append(bytes.Repeat([]byte{7}, 16), 0x90, 0x00)}}
	c = NewConn(s)
	r, err = c.Send(context.Background(), Command{INS: 0xB0, Ne: 256})
	if err != nil || len(r.Data) != 16 {
		t.Fatalf("6Cxx retry: %v %d", err, len(r.Data))
	}
	if s.sent[1] != "00b0000010" {
		t.Errorf("retry sent %s", s.sent[1])
	}
}

func TestConnStopsEndless61xx(t *testing.T) {
	t.Parallel()
	answers := make([][]byte, maxChained+2)
	for i := range answers {
		answers[i] = h("6101")
	}
	_, err := NewConn(&script{answers: answers}).Send(context.Background(), Command{INS: 0xB0, Ne: 1})
	if err == nil {
		t.Fatal("endless 61xx accepted")
	}
}

func TestConnExtendedOnlyWhenNeeded(t *testing.T) {
	t.Parallel()
	s := &script{answers: [][]byte{h("9000"), h("9000")}}
	c := NewConn(s)
	c.Extended = true
	c.Send(context.Background(), Command{INS: 0xB0, Ne: 0xDF})
	c.Send(context.Background(), Command{INS: 0xB0, Ne: 0x1000})
	if s.sent[0] != "00b00000df" || s.sent[1] != "00b00000001000" {
		t.Errorf("sent %v", s.sent)
	}
	c.Extended = false
	if _, err := c.Send(context.Background(), Command{INS: 0xB0, Ne: 0x1000}); !errors.Is(err, ErrNeedsExtended) {
		t.Errorf("short-only conn: %v", err)
	}
}

func TestConnContextAndTransportErrors(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewConn(&script{}).Send(ctx, Command{INS: 0xB0}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
	if _, err := NewConn(&script{}).Send(context.Background(), Command{INS: 0xB0}); err == nil {
		t.Error("transport error swallowed")
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"00A4000C023F00", "00B09C00DF", "00B00000000000", "008600000000027C000000"} {
		f.Add(h(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCommand(b)
		if err != nil {
			return
		}
		ext := c.NeedsExtended() || (len(b) > 5 && b[4] == 0 && len(b) != 5)
		out, err := c.Bytes(ext)
		if err != nil {
			t.Fatalf("parsed command does not encode: %v", err)
		}
		again, err := ParseCommand(out)
		if err != nil || again.Ne != c.Ne || !bytes.Equal(again.Data, c.Data) {
			t.Fatalf("re-encoding changed the command: %x -> %x", b, out)
		}
	})
}
