package barcode

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// feedAll runs chunks through a framer, each chunk at its own time.
func feedAll(f *lineFramer, chunks []string, at []time.Duration) (frames []string, discards []error) {
	t0 := time.Date(2025, 3, 15, 8, 0, 0, 0, time.UTC)
	for i, c := range chunks {
		now := t0
		if at != nil {
			now = t0.Add(at[i])
		}
		for j := 0; j < len(c); j++ {
			fr, err := f.feed(c[j], now)
			if fr != nil {
				frames = append(frames, string(fr))
			}
			if err != nil {
				discards = append(discards, err)
			}
		}
	}
	return frames, discards
}

func TestLineFramer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		chunks   []string
		at       []time.Duration
		want     []string
		discards []error
	}{
		{"CR", []string{"a\rb\r"}, nil, []string{"a", "b"}, nil},
		{"LF", []string{"a\nb\n"}, nil, []string{"a", "b"}, nil},
		{"CRLF", []string{"a\r\nb\r\n"}, nil, []string{"a", "b"}, nil},
		{"LFCR", []string{"a\n\rb\n\r"}, nil, []string{"a", "b"}, nil},
		{"mixed and split", []string{"ab", "c\r", "\nd", "e\n", "f\r"}, nil, []string{"abc", "de", "f"}, nil},
		{"blank lines", []string{"\r\n\r\n\n\n\r\r"}, nil, nil, nil},
		{"no terminator yet", []string{"abc"}, nil, nil, nil},
		{"exactly the bound", []string{"12345678\r"}, nil, []string{"12345678"}, nil},
		{"one past the bound", []string{"123456789\rok\r"}, nil, []string{"ok"}, []error{errLineTooLong}},
		{"far past the bound, split", []string{"1234567890", "1234567890", "\r\nok\n"}, nil, []string{"ok"}, []error{errLineTooLong}},
		{"stale partial dropped", []string{"abc", "def\r"}, []time.Duration{0, 2 * time.Second}, []string{"def"}, []error{errLineAbandoned}},
		{"stale overlong dropped", []string{"1234567890", "ok\r"}, []time.Duration{0, 2 * time.Second}, []string{"ok"}, []error{errLineTooLong}},
		{"stale partial then terminator", []string{"abc", "\rok\r"}, []time.Duration{0, 2 * time.Second}, []string{"ok"}, []error{errLineAbandoned}},
		{"slow but steady", []string{"ab", "cd", "ef\r"}, []time.Duration{0, 900 * time.Millisecond, 1800 * time.Millisecond}, []string{"abcdef"}, nil},
		{"idle between frames", []string{"ab\r", "cd\r"}, []time.Duration{0, time.Hour}, []string{"ab", "cd"}, nil},
		{"bytes pass through", []string{"\x00\xff\t|\x1b\r"}, nil, []string{"\x00\xff\t|\x1b"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			frames, discards := feedAll(&lineFramer{max: 8, gap: time.Second}, tt.chunks, tt.at)
			if len(frames) != len(tt.want) {
				t.Fatalf("frames %q, want %q", frames, tt.want)
			}
			for i := range frames {
				if frames[i] != tt.want[i] {
					t.Errorf("frame %d %q, want %q", i, frames[i], tt.want[i])
				}
			}
			if !errorsEqual(discards, tt.discards) {
				t.Errorf("discards %v, want %v", discards, tt.discards)
			}
		})
	}
}

func errorsEqual(a, b []error) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !errors.Is(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestTextLooksMangled(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in      string
		mangled bool
	}{
		{cardQR, false},
		{"HS1|A-1|A|250101", false},
		{"a\tb", false},
		{"Nữ", false},
		{"NgÆ°á»\u009di", true},                   // UTF-8 read as Latin-1: C1 control U+009D
		{"Nguy\xe1\xbb", true},                    // cut inside a character
		{"N\ufffd", true},                         // already replaced once
		{"abc\x00", true},                         // NUL
		{"abc\x1b[0m", true},                      // escape sequence
		{"abc\x7f", true},                         // DEL
		{"\xc0\xaf", true},                        // overlong encoding of '/'
		{"\xed\xa0\x80", true},                    // UTF-16 surrogate
		{"Lê Lợi, Phường 1", false},               // NFC Vietnamese
		{"Le\u0302\u0300 Lo\u031b\u0323i", false}, // NFD Vietnamese is still text
	} {
		if got := textLooksMangled([]byte(tt.in)); got != tt.mangled {
			t.Errorf("%q: mangled %v, want %v", tt.in, got, tt.mangled)
		}
	}
}

func TestRepeatFilter(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 3, 15, 8, 0, 0, 0, time.UTC)
	f := newRepeatFilter(2 * time.Second)
	a, b := []byte(receiptQR), []byte(vietQR)
	steps := []struct {
		payload []byte
		at      time.Duration
		admit   bool
	}{
		{a, 0, true},
		{a, 300 * time.Millisecond, false},
		{b, 400 * time.Millisecond, true},
		{a, 600 * time.Millisecond, false},
		// Held under the scanner: each read within 2 s of the last keeps it quiet.
		{a, 2400 * time.Millisecond, false},
		{a, 4300 * time.Millisecond, false},
		// Taken away for longer than the window, shown again.
		{a, 6400 * time.Millisecond, true},
		{b, 6500 * time.Millisecond, true},
	}
	for i, st := range steps {
		if got := f.admit(st.payload, t0.Add(st.at)); got != st.admit {
			t.Errorf("step %d (%q at %s): admit %v, want %v", i, st.payload[:4], st.at, got, st.admit)
		}
	}
	for k := range f.seen {
		if bytes.Contains(k[:], a[:4]) {
			t.Error("the filter keeps payload bytes")
		}
	}

	off := newRepeatFilter(-1)
	first, second := off.admit(a, t0), off.admit(a, t0)
	if !first || !second {
		t.Error("a negative window suppressed a repeat")
	}

	flood := newRepeatFilter(time.Hour)
	for i := range 3 * maxRemembered {
		flood.admit([]byte{byte(i), byte(i >> 8)}, t0)
	}
	if len(flood.seen) > maxRemembered {
		t.Errorf("remembers %d payloads", len(flood.seen))
	}
}

// FuzzLineFramer: any byte stream, cut anywhere, yields the same frames as
// splitting it on CR/LF by hand, each within the bound and free of CR/LF.
func FuzzLineFramer(f *testing.F) {
	f.Add([]byte("HS1|A-1|A|250101\r\nabc\n\rdef\r"), uint8(3))
	f.Add([]byte(cardQR+"\r"), uint8(7))
	f.Add([]byte("\r\r\n\n"), uint8(1))
	f.Add(bytes.Repeat([]byte("x"), 100), uint8(50))
	f.Fuzz(func(t *testing.T, stream []byte, cut uint8) {
		const max = 32
		fr := &lineFramer{max: max, gap: time.Second}
		t0 := time.Now()
		var got [][]byte
		for i, c := range stream {
			// A pause at every cut-th byte, always shorter than the gap.
			at := t0.Add(time.Duration(i/(int(cut)+1)) * time.Millisecond)
			frame, err := fr.feed(c, at)
			if frame != nil && err != nil {
				t.Fatal("a frame and a discard from one byte")
			}
			if frame != nil {
				got = append(got, frame)
			}
		}
		var want [][]byte
		for _, line := range bytes.FieldsFunc(stream, func(r rune) bool { return r == '\r' || r == '\n' }) {
			if len(line) <= max {
				want = append(want, line)
			}
		}
		// The last line has no terminator unless the stream ends with one.
		if n := len(stream); len(want) > 0 && n > 0 && stream[n-1] != '\r' && stream[n-1] != '\n' {
			last := stream[bytes.LastIndexAny(stream, "\r\n")+1:]
			if len(last) <= max && bytes.Equal(want[len(want)-1], last) {
				want = want[:len(want)-1]
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%d frames %q, want %d %q", len(got), got, len(want), want)
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("frame %d %q, want %q", i, got[i], want[i])
			}
		}
	})
}
