package keywedge

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	evdev "github.com/holoplot/go-evdev"
)

var (
	amd64 = Layout{WordSize: 8, Order: binary.LittleEndian}
	armv7 = Layout{WordSize: 4, Order: binary.LittleEndian}
)

// TestDecodePinnedRecords pins struct input_event byte for byte: KEY_A (30)
// pressed at 1.5 s, as the kernel writes it on amd64 and on 32-bit ARM.
func TestDecodePinnedRecords(t *testing.T) {
	t.Parallel()
	want := Event{Time: 1500 * time.Millisecond, Type: EvKey, Code: 30, Value: 1}
	for _, tt := range []struct {
		name   string
		layout Layout
		rec    []byte
	}{
		{"amd64", amd64, []byte{
			0x01, 0, 0, 0, 0, 0, 0, 0, // tv_sec
			0x20, 0xa1, 0x07, 0, 0, 0, 0, 0, // tv_usec = 500000
			0x01, 0x00, // type EV_KEY
			0x1e, 0x00, // code KEY_A
			0x01, 0, 0, 0, // value: pressed
		}},
		{"armv7", armv7, []byte{0x01, 0, 0, 0, 0x20, 0xa1, 0x07, 0, 0x01, 0x00, 0x1e, 0x00, 0x01, 0, 0, 0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if len(tt.rec) != tt.layout.RecordSize() {
				t.Fatalf("record size %d, layout says %d", len(tt.rec), tt.layout.RecordSize())
			}
			got, err := tt.layout.Decode(tt.rec)
			if err != nil || got != want {
				t.Fatalf("Decode = %+v, %v; want %+v", got, err, want)
			}
			if enc := tt.layout.Encode(want); !bytes.Equal(enc, tt.rec) {
				t.Errorf("Encode = % x\nwant     % x", enc, tt.rec)
			}
			if _, err := tt.layout.Decode(tt.rec[1:]); err == nil {
				t.Error("decoded a short record")
			}
		})
	}
	if NativeLayout.RecordSize() != 24 && NativeLayout.RecordSize() != 16 {
		t.Errorf("native record size %d", NativeLayout.RecordSize())
	}
	if _, err := (Layout{WordSize: 2, Order: binary.LittleEndian}).Decode(make([]byte, 12)); err == nil {
		t.Error("accepted 2-byte longs")
	}
}

// ev is a key event at t milliseconds.
func ev(t int, code uint16, value int32) Event {
	return Event{Time: time.Duration(t) * time.Millisecond, Type: EvKey, Code: code, Value: value}
}

// tap presses and releases code at t milliseconds, with the SYN_REPORTs and the
// MSC_SCAN a real USB keyboard sends.
func tap(t int, code uint16) []Event {
	at := time.Duration(t) * time.Millisecond
	return []Event{
		{Time: at, Type: evdev.EV_MSC, Code: evdev.MSC_SCAN, Value: 0x70004},
		ev(t, code, KeyPressed), {Time: at, Type: EvSyn, Code: SynReport},
		ev(t+1, code, KeyReleased), {Time: at + time.Millisecond, Type: EvSyn, Code: SynReport},
	}
}

func seq(parts ...[]Event) []Event {
	var all []Event
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

func press(t int, code uint16) []Event   { return []Event{ev(t, code, KeyPressed)} }
func release(t int, code uint16) []Event { return []Event{ev(t, code, KeyReleased)} }
func repeat(t int, code uint16) []Event  { return []Event{ev(t, code, KeyRepeated)} }

// stream encodes events as the kernel would write them.
func stream(l Layout, evs []Event) []byte {
	var b bytes.Buffer
	for _, e := range evs {
		b.Write(l.Encode(e))
	}
	return b.Bytes()
}

type outcome struct {
	frames  []Frame
	discard []error
}

// decode runs raw bytes through a RecordReader and a Decoder.
func decode(t *testing.T, d *Decoder, l Layout, raw []byte) (outcome, error) {
	t.Helper()
	var o outcome
	rr := NewRecordReader(bytes.NewReader(raw), l)
	for {
		e, err := rr.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return o, nil
			}
			return o, err
		}
		f, ok, derr := d.Feed(e)
		if ok {
			o.frames = append(o.frames, f)
		}
		if derr != nil {
			o.discard = append(o.discard, derr)
		}
	}
}

// TestDecodeKeys states key sequences by their Linux key codes, independently of
// the decoder's own table.
func TestDecodeKeys(t *testing.T) {
	t.Parallel()
	const (
		shift = evdev.KEY_LEFTSHIFT
		enter = evdev.KEY_ENTER
	)
	tests := []struct {
		name    string
		evs     []Event
		want    []Frame
		discard []error
	}{
		{"lower case and digits", seq(tap(0, evdev.KEY_H), tap(10, evdev.KEY_S), tap(20, evdev.KEY_1), tap(30, evdev.KEY_0), tap(40, enter)),
			[]Frame{{Text: "hs10"}}, nil},
		{"shift for capitals and symbols", seq(press(0, shift), tap(1, evdev.KEY_H), tap(3, evdev.KEY_S), tap(5, evdev.KEY_BACKSLASH), release(7, shift),
			tap(9, evdev.KEY_BACKSLASH), press(11, evdev.KEY_RIGHTSHIFT), tap(12, evdev.KEY_1), tap(14, evdev.KEY_SEMICOLON), release(16, evdev.KEY_RIGHTSHIFT),
			tap(18, evdev.KEY_SLASH), tap(20, enter)),
			[]Frame{{Text: "HS|\\!:/"}}, nil},
		{"punctuation of a URL", seq(tap(0, evdev.KEY_H), press(2, shift), tap(3, evdev.KEY_SEMICOLON), release(5, shift), tap(6, evdev.KEY_SEMICOLON),
			tap(8, evdev.KEY_SLASH), tap(10, evdev.KEY_DOT), tap(12, evdev.KEY_MINUS), tap(14, evdev.KEY_EQUAL), tap(16, evdev.KEY_SPACE), tap(18, evdev.KEY_TAB), tap(20, enter)),
			[]Frame{{Text: "h:;/.-= \t"}}, nil},
		{"caps lock pressed by the scanner", seq(tap(0, evdev.KEY_CAPSLOCK), tap(2, evdev.KEY_A), press(4, shift), tap(5, evdev.KEY_B), tap(7, evdev.KEY_1), release(9, shift),
			tap(10, evdev.KEY_CAPSLOCK), tap(12, evdev.KEY_C), tap(14, enter)),
			[]Frame{{Text: "Ab!c"}}, nil},
		{"keypad digits and keypad Enter", seq(tap(0, evdev.KEY_KP7), tap(2, evdev.KEY_KP0), tap(4, evdev.KEY_KPDOT), tap(6, evdev.KEY_KPMINUS), tap(8, evdev.KEY_KPENTER)),
			[]Frame{{Text: "70.-"}}, nil},
		{"key repeat types nothing", seq(press(0, evdev.KEY_A), repeat(300, evdev.KEY_A), repeat(330, evdev.KEY_A), release(340, evdev.KEY_A),
			press(350, shift), repeat(600, shift), tap(610, evdev.KEY_B), release(620, shift), tap(630, enter)),
			[]Frame{{Text: "aB"}}, nil},
		{"a held Enter ends one frame", seq(tap(0, evdev.KEY_X), press(2, enter), repeat(300, enter), repeat(330, enter), release(340, enter)),
			[]Frame{{Text: "x"}}, nil},
		{"doubled letters are two presses", seq(tap(0, evdev.KEY_A), tap(2, evdev.KEY_A), tap(4, enter)), []Frame{{Text: "aa"}}, nil},
		{"bare Enters are not frames", seq(tap(0, enter), tap(10, enter), tap(20, evdev.KEY_Z), tap(30, enter), tap(40, enter)), []Frame{{Text: "z"}}, nil},
		{"Ctrl+M and Ctrl+J end frames", seq(tap(0, evdev.KEY_A), press(2, evdev.KEY_LEFTCTRL), tap(3, evdev.KEY_M), release(5, evdev.KEY_LEFTCTRL),
			tap(6, evdev.KEY_B), press(8, evdev.KEY_RIGHTCTRL), tap(9, evdev.KEY_J), release(11, evdev.KEY_RIGHTCTRL)),
			[]Frame{{Text: "a"}, {Text: "b"}}, nil},
		{"unknown keys are dropped and flag the frame", seq(tap(0, evdev.KEY_A), tap(2, evdev.KEY_F5), tap(4, 0x2ff), tap(6, evdev.KEY_B), tap(8, enter), tap(10, evdev.KEY_C), tap(12, enter)),
			[]Frame{{Text: "ab", Mangled: true}, {Text: "c"}}, nil},
		// "Nữ" typed by a scanner emulating Alt+keypad entry: Alt held, KP2 KP4 KP8 (cp1252 has no ữ).
		{"Alt+keypad code entry flags the frame", seq(tap(0, evdev.KEY_N), press(2, evdev.KEY_LEFTALT), tap(3, evdev.KEY_KP2), tap(5, evdev.KEY_KP4),
			tap(7, evdev.KEY_KP8), release(9, evdev.KEY_LEFTALT), tap(10, enter)),
			[]Frame{{Text: "n", Mangled: true}}, nil},
		{"only untypeable characters", seq(tap(0, evdev.KEY_F13), tap(2, enter)), []Frame{{Mangled: true}}, nil},
		{"other event types are ignored", seq([]Event{{Type: 0x11, Code: 1, Value: 1}, {Type: 0xffff, Code: 0xffff, Value: -1}},
			tap(0, evdev.KEY_Q), []Event{ev(1, evdev.KEY_W, 7), ev(2, evdev.KEY_E, -1)}, tap(3, enter)),
			[]Frame{{Text: "q"}}, nil},
		{"a frame without Enter is dropped after a second of silence", seq(tap(0, evdev.KEY_A), tap(2, evdev.KEY_B), tap(1500, evdev.KEY_C), tap(1502, enter)),
			[]Frame{{Text: "c"}}, []error{ErrFrameAbandoned}},
		{"silence then Enter", seq(tap(0, evdev.KEY_A), tap(2000, enter), tap(2002, evdev.KEY_D), tap(2004, enter)),
			[]Frame{{Text: "d"}}, []error{ErrFrameAbandoned}},
		{"silence between frames is fine", seq(tap(0, evdev.KEY_A), tap(2, enter), tap(60000, evdev.KEY_B), tap(60002, enter)),
			[]Frame{{Text: "a"}, {Text: "b"}}, nil},
		{"SYN_DROPPED flags the frame and skips to SYN_REPORT", seq(tap(0, evdev.KEY_A),
			[]Event{{Time: 2 * time.Millisecond, Type: EvSyn, Code: SynDropped}, ev(2, evdev.KEY_LEFTSHIFT, KeyPressed), ev(2, evdev.KEY_X, KeyPressed),
				{Time: 2 * time.Millisecond, Type: EvSyn, Code: SynReport}},
			tap(4, evdev.KEY_B), tap(6, enter), tap(8, evdev.KEY_C), tap(10, enter)),
			[]Frame{{Text: "ab", Mangled: true}, {Text: "c"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, l := range []Layout{amd64, armv7} {
				got, err := decode(t, &Decoder{}, l, stream(l, tt.evs))
				if err != nil {
					t.Fatal(err)
				}
				if !framesEqual(got.frames, tt.want) || !errorsEqual(got.discard, tt.discard) {
					t.Errorf("%d-byte records: frames %+v discards %v\nwant frames %+v discards %v", l.RecordSize(), got.frames, got.discard, tt.want, tt.discard)
				}
			}
		})
	}
}

func TestOverlongFrameResynchronises(t *testing.T) {
	t.Parallel()
	long, err := Keystrokes(strings.Repeat("x", 20), 0, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	after, err := Keystrokes("ok", time.Second, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	exact, err := Keystrokes("12345678", 2*time.Second, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decode(t, &Decoder{MaxLen: 8}, amd64, stream(amd64, seq(long, after, exact)))
	if err != nil {
		t.Fatal(err)
	}
	if !framesEqual(got.frames, []Frame{{Text: "ok"}, {Text: "12345678"}}) || !errorsEqual(got.discard, []error{ErrFrameTooLong}) {
		t.Errorf("frames %+v, discards %v", got.frames, got.discard)
	}

	// An overlong frame that never sees its Enter is still reported as too long.
	got, err = decode(t, &Decoder{MaxLen: 8}, amd64, stream(amd64, seq(long[:len(long)-4], tap(5000, evdev.KEY_Z), tap(5002, evdev.KEY_ENTER))))
	if err != nil {
		t.Fatal(err)
	}
	if !framesEqual(got.frames, []Frame{{Text: "z"}}) || !errorsEqual(got.discard, []error{ErrFrameTooLong}) {
		t.Errorf("unterminated: frames %+v, discards %v", got.frames, got.discard)
	}
}

func TestKeystrokesRoundTrip(t *testing.T) {
	t.Parallel()
	// Every printable ASCII character, as on a provisioning QR or a URL.
	var all strings.Builder
	for c := byte(' '); c <= '~'; c++ {
		all.WriteByte(c)
	}
	for _, text := range []string{all.String(), "HS1|H29.22-250315-0042|H29.22|250315", "079203012345|025123456|Nguyen Van An|15031990|Nam|12 Le Loi|01072021", "a\tb"} {
		evs, err := Keystrokes(text, time.Hour, 3*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decode(t, &Decoder{}, NativeLayout, stream(NativeLayout, evs))
		if err != nil {
			t.Fatal(err)
		}
		if !framesEqual(got.frames, []Frame{{Text: text}}) || len(got.discard) > 0 {
			t.Errorf("%q came back as %+v %v", text, got.frames, got.discard)
		}
	}
	if _, err := Keystrokes("Nữ", 0, 0); err == nil {
		t.Error("typed ữ on a US keyboard")
	}
}

// TestRecordStreamLengths: the kernel hands out whole records; anything else is
// an error at the end, never a panic or a shifted decode.
func TestRecordStreamLengths(t *testing.T) {
	t.Parallel()
	evs, err := Keystrokes("ab", 0, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	whole := stream(amd64, evs)
	for _, extra := range []int{1, 7, 23} {
		raw := append(append([]byte(nil), whole...), make([]byte, extra)...)
		got, err := decode(t, &Decoder{}, amd64, raw)
		if !errors.Is(err, ErrTruncated) {
			t.Errorf("%d stray bytes: err %v, want ErrTruncated", extra, err)
		}
		if !framesEqual(got.frames, []Frame{{Text: "ab"}}) {
			t.Errorf("%d stray bytes: frames before the end %+v", extra, got.frames)
		}
	}
	// 24-byte records read as 16-byte ones decode as other events; nothing panics and
	// the misread does not produce the text.
	got, err := decode(t, &Decoder{}, armv7, whole)
	if err != nil && !errors.Is(err, ErrTruncated) {
		t.Fatal(err)
	}
	for _, f := range got.frames {
		if f.Text == "ab" {
			t.Error("decoded 24-byte records with the 16-byte layout")
		}
	}
}

// FuzzDecode feeds arbitrary bytes as an evdev stream: no panic, and every frame
// is printable ASCII (or tab) within the bound.
func FuzzDecode(f *testing.F) {
	evs, _ := Keystrokes("HS1|X-1|A|250101", 0, time.Millisecond)
	f.Add(stream(amd64, evs))
	f.Add(stream(amd64, seq(tap(0, evdev.KEY_A), []Event{{Type: EvSyn, Code: SynDropped}}, tap(3, evdev.KEY_ENTER))))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, l := range []Layout{amd64, armv7} {
			d := &Decoder{MaxLen: 64}
			rr := NewRecordReader(bytes.NewReader(raw), l)
			for {
				e, err := rr.Read()
				if err != nil {
					break
				}
				if again, err := l.Decode(l.Encode(e)); err != nil || again.Type != e.Type || again.Code != e.Code || again.Value != e.Value {
					t.Fatalf("Encode/Decode changed %+v into %+v (%v)", e, again, err)
				}
				fr, ok, _ := d.Feed(e)
				if !ok {
					continue
				}
				if len(fr.Text) > 64 {
					t.Fatalf("frame of %d bytes past a bound of 64", len(fr.Text))
				}
				for i := 0; i < len(fr.Text); i++ {
					if c := fr.Text[i]; (c < ' ' || c > '~') && c != '\t' {
						t.Fatalf("frame carries byte %#x", c)
					}
				}
			}
		}
	})
}

func framesEqual(a, b []Frame) bool {
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
