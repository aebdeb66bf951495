package ui

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDecodeClientFrame(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in       string
		want     clientFrame
		code, id string
	}{
		{`{"type":"intent","id":"c17","name":"set_field","data":{"key":"phone","value":"0912345678"}}`,
			clientFrame{Type: "intent", ID: "c17", Name: "set_field", Data: json.RawMessage(`{"key":"phone","value":"0912345678"}`)}, "", ""},
		{` {"type":"intent","id":"A_z-9","name":"help","data":null} `, clientFrame{Type: "intent", ID: "A_z-9", Name: "help"}, "", ""},
		{`{"type":"ping","id":"p3"}`, clientFrame{Type: "ping", ID: "p3"}, "", ""},
		{`{"type":"ping"}`, clientFrame{Type: "ping"}, "", ""},
		{`{"type":"ping","id":"p3","name":"x"}`, clientFrame{}, "bad_message", "p3"},
		{`{"type":"ping","id":""}`, clientFrame{Type: "ping"}, "", ""},
		{`{"type":"intent","id":"` + strings.Repeat("a", 32) + `","name":"help"}`, clientFrame{Type: "intent", ID: strings.Repeat("a", 32), Name: "help"}, "", ""},
		{`{"type":"intent","id":"` + strings.Repeat("a", 33) + `","name":"help"}`, clientFrame{}, "bad_message", ""},
		{`{"type":"intent","id":"é","name":"help"}`, clientFrame{}, "bad_message", ""},
		{`{"type":"intent","id":"x","name":"` + strings.Repeat("n", 65) + `"}`, clientFrame{}, "bad_message", "x"},
		{`{"type":"intent","id":"x","name":"help","data":"s"}`, clientFrame{}, "bad_message", "x"},
		{`{"type":"intent","id":"x","name":"help","Extra":1}`, clientFrame{}, "bad_message", ""},
		{`{"type":"hello","id":"x"}`, clientFrame{}, "unknown_type", "x"},
		{`{"type":"pong","id":"x y"}`, clientFrame{}, "bad_message", ""},
		{`{}`, clientFrame{}, "bad_message", ""},
		{`{"type":1}`, clientFrame{}, "bad_message", ""},
		{`{"type":"ping"} x`, clientFrame{}, "bad_message", ""},
		{`"ping"`, clientFrame{}, "bad_message", ""},
		{``, clientFrame{}, "bad_message", ""},
	}
	for _, tc := range cases {
		got, ferr := decodeClientFrame([]byte(tc.in))
		code, id := "", ""
		if ferr != nil {
			code, id = ferr.Code, ferr.ID
			if ferr.Message == "" {
				t.Errorf("%s: error without message", tc.in)
			}
		}
		if code != tc.code || id != tc.id || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("decode %s = %+v, %q/%q; want %+v, %q/%q", tc.in, got, code, id, tc.want, tc.code, tc.id)
		}
	}
}

func FuzzDecodeClientFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"intent","id":"c17","name":"set_field","data":{"key":"phone","value":"0912345678"}}`,
		`{"type":"ping","id":"p3"}`, `{"type":"intent","id":"a","name":"b","data":null}`,
		`{"type":"x"}`, `{"type":"ping"}{}`, `[]`, `null`, `{"type":"intent","id":"a","name":"b","data":[]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, ferr := decodeClientFrame(b)
		if ferr != nil {
			if !reflect.DeepEqual(fr, clientFrame{}) {
				t.Fatalf("refused frame returned %+v", fr)
			}
			switch ferr.Code {
			case codeBadMessage, codeUnknownType:
			default:
				t.Fatalf("code %q", ferr.Code)
			}
			if ferr.ID != "" && !validID(ferr.ID) {
				t.Fatalf("echoes invalid id %q", ferr.ID)
			}
			return
		}
		if fr.ID != "" && !validID(fr.ID) {
			t.Fatalf("accepted id %q", fr.ID)
		}
		switch fr.Type {
		case "intent":
			if fr.ID == "" || fr.Name == "" || len(fr.Name) > maxIntentLen {
				t.Fatalf("accepted intent %+v", fr)
			}
			if fr.Data != nil {
				var m map[string]json.RawMessage
				if err := json.Unmarshal(fr.Data, &m); err != nil {
					t.Fatalf("accepted data %q: %v", fr.Data, err)
				}
			}
		case "ping":
			if fr.Name != "" || fr.Data != nil {
				t.Fatalf("accepted ping %+v", fr)
			}
		default:
			t.Fatalf("accepted type %q", fr.Type)
		}
		// What was accepted survives a round trip unchanged.
		again, err := json.Marshal(fr)
		if err != nil {
			t.Fatal(err)
		}
		fr2, ferr2 := decodeClientFrame(again)
		if ferr2 != nil || fr2.Type != fr.Type || fr2.ID != fr.ID || fr2.Name != fr.Name {
			t.Fatalf("round trip of %s: %+v %v", again, fr2, ferr2)
		}
	})
}

func TestTokenBucket(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	b := newTokenBucket(rateLimit, rateBurst, t0)
	n := 0
	for range 100 {
		if b.allow(t0) {
			n++
		}
	}
	if n != rateBurst {
		t.Errorf("burst admitted %d, want %d", n, rateBurst)
	}
	if b.allow(t0.Add(40 * time.Millisecond)) {
		t.Error("admitted before a token refilled")
	}
	if !b.allow(t0.Add(50 * time.Millisecond)) {
		t.Error("a token refills every 50 ms")
	}
	b2 := newTokenBucket(rateLimit, rateBurst, t0)
	for range rateBurst {
		b2.allow(t0)
	}
	n = 0
	for i := range 500 { // 10 s at 50 frames/s
		if b2.allow(t0.Add(time.Duration(i+1) * 20 * time.Millisecond)) {
			n++
		}
	}
	if n < 199 || n > 201 {
		t.Errorf("sustained rate admitted %d in 10 s, want 200", n)
	}
}

func TestDropCounter(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	d := newDropCounter(maxDrops, dropWindow)
	for i := range maxDrops {
		if d.add(t0.Add(time.Duration(i) * time.Millisecond)) {
			t.Fatalf("limit hit at drop %d", i+1)
		}
	}
	if !d.add(t0.Add(time.Second)) {
		t.Error("201 drops within 10 s not detected")
	}
	slow := newDropCounter(maxDrops, dropWindow)
	for i := range 1000 { // 20 drops a second: never 200 within 10 s
		if slow.add(t0.Add(time.Duration(i) * 51 * time.Millisecond)) {
			t.Fatalf("slow drops closed the connection at %d", i)
		}
	}
}
