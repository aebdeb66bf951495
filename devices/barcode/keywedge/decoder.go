package keywedge

import (
	"errors"
	"fmt"
	"time"

	evdev "github.com/holoplot/go-evdev"
)

// Frame is one code the scanner typed, without its Enter.
type Frame struct {
	Text string // ASCII
	// Mangled says characters were lost on the way: a key outside the US layout,
	// Alt/Ctrl/Meta held on a character (Alt+keypad code entry), or events the
	// kernel dropped. Such a frame is delivered anyway, flagged, so the screen can
	// say "could not read" rather than nothing.
	Mangled bool
}

// Why a partial frame was thrown away.
var (
	ErrFrameTooLong   = errors.New("frame longer than the bound, discarded up to its Enter")
	ErrFrameAbandoned = errors.New("frame left without its Enter, discarded (is the scanner's suffix set to Enter/CR?)")
)

// Defaults for a zero Decoder.
const (
	DefaultMaxLen = 8192
	// DefaultGap: scanners type a code in one burst, a few milliseconds per key
	// even in their slowest "compatibility" mode; a second of silence inside a
	// frame means the rest is not coming.
	DefaultGap = time.Second
)

// Decoder turns key events into frames. The zero value is ready, with the
// defaults above; it is not safe for concurrent use.
type Decoder struct {
	MaxLen int           // longest frame in bytes; 0 means DefaultMaxLen
	Gap    time.Duration // idle time after which a partial frame is dropped; 0 means DefaultGap

	shift, ctrl, alt, meta [2]bool // left, right
	capsLock               bool

	buf        []byte
	mangled    bool
	overlong   bool
	inFrame    bool // a key press has been seen since the last Enter
	resyncing  bool // after SYN_DROPPED, until the next SYN_REPORT
	lastKeyAt  time.Duration
	haveLastAt bool
}

// Feed takes the next event. It returns a frame when an Enter completes one, or
// ErrFrameTooLong / ErrFrameAbandoned when it discards one; at most one of the
// two per event.
func (d *Decoder) Feed(e Event) (Frame, bool, error) {
	switch {
	case e.Type == EvSyn && e.Code == SynDropped:
		// The kernel's queue overflowed: keys of this frame, or of the next, are
		// gone, and so may be a modifier's release. As libevdev does, ignore
		// everything up to the next SYN_REPORT; then assume no modifier is held,
		// since a scanner holds shift for one character at a time.
		d.resyncing, d.mangled, d.inFrame = true, true, true
		d.lastKeyAt, d.haveLastAt = e.Time, true
		d.shift, d.ctrl, d.alt, d.meta = [2]bool{}, [2]bool{}, [2]bool{}, [2]bool{}
		return Frame{}, false, nil
	case d.resyncing:
		d.resyncing = !(e.Type == EvSyn && e.Code == SynReport)
		return Frame{}, false, nil
	case e.Type != EvKey:
		return Frame{}, false, nil // EV_SYN reports, EV_MSC scan codes, LEDs
	}

	var dropped error
	if e.Value == KeyPressed {
		if d.inFrame && d.haveLastAt {
			if gap := e.Time - d.lastKeyAt; gap > d.gap() {
				dropped = d.abandon()
			}
		}
		d.lastKeyAt, d.haveLastAt = e.Time, true
	}

	if d.modifier(e) {
		return Frame{}, false, dropped
	}
	// A repeat is never data: scanners type "aa" as two presses, and the kernel
	// repeats a key only when a USB report stalls with it held down.
	if e.Value != KeyPressed {
		return Frame{}, false, dropped
	}

	code := e.Code
	if d.ctrl[0] || d.ctrl[1] {
		// Scanners set to send control characters type CR as Ctrl+M, LF as Ctrl+J.
		if code == evdev.KEY_M || code == evdev.KEY_J {
			code = evdev.KEY_ENTER
		}
	}
	if code == evdev.KEY_ENTER || code == evdev.KEY_KPENTER {
		f, ok, err := d.finish()
		if dropped != nil {
			err = dropped // the frame begun after the gap was empty, so ok is false
		}
		return f, ok, err
	}

	d.inFrame = true
	c, known := d.char(code)
	if !known || d.alt[0] || d.alt[1] || d.ctrl[0] || d.ctrl[1] || d.meta[0] || d.meta[1] {
		d.mangled = true
		return Frame{}, false, dropped
	}
	if d.overlong {
		return Frame{}, false, dropped
	}
	if len(d.buf) >= d.maxLen() {
		d.overlong, d.buf = true, d.buf[:0]
		return Frame{}, false, dropped
	}
	d.buf = append(d.buf, c)
	return Frame{}, false, dropped
}

func (d *Decoder) finish() (Frame, bool, error) {
	defer d.reset()
	switch {
	case d.overlong:
		return Frame{}, false, ErrFrameTooLong
	case len(d.buf) == 0 && !d.mangled:
		return Frame{}, false, nil // a bare Enter
	}
	return Frame{Text: string(d.buf), Mangled: d.mangled}, true, nil
}

func (d *Decoder) abandon() error {
	err := ErrFrameAbandoned
	if d.overlong {
		err = ErrFrameTooLong
	}
	d.reset()
	return err
}

func (d *Decoder) reset() {
	d.buf, d.mangled, d.overlong, d.inFrame = d.buf[:0], false, false, false
}

// modifier tracks shift, ctrl, alt, meta and caps lock, and reports whether e was
// one of them.
func (d *Decoder) modifier(e Event) bool {
	var side *[2]bool
	var i int
	switch e.Code {
	case evdev.KEY_LEFTSHIFT, evdev.KEY_RIGHTSHIFT:
		side, i = &d.shift, b2i(e.Code == evdev.KEY_RIGHTSHIFT)
	case evdev.KEY_LEFTCTRL, evdev.KEY_RIGHTCTRL:
		side, i = &d.ctrl, b2i(e.Code == evdev.KEY_RIGHTCTRL)
	case evdev.KEY_LEFTALT, evdev.KEY_RIGHTALT:
		side, i = &d.alt, b2i(e.Code == evdev.KEY_RIGHTALT)
	case evdev.KEY_LEFTMETA, evdev.KEY_RIGHTMETA:
		side, i = &d.meta, b2i(e.Code == evdev.KEY_RIGHTMETA)
	case evdev.KEY_CAPSLOCK:
		// The scanner presses caps lock itself when it was told the host's caps lock
		// is on; the host's own LED state never reaches a grabbed device.
		if e.Value == KeyPressed {
			d.capsLock = !d.capsLock
		}
		return true
	case evdev.KEY_NUMLOCK:
		return true
	default:
		return false
	}
	switch e.Value {
	case KeyPressed:
		side[i] = true
	case KeyReleased:
		side[i] = false
	}
	return true
}

// char is the US-layout character for a key, under the current shift and caps
// lock. Keypad keys type digits whatever num lock says: scanners that use the
// keypad assume num lock on.
func (d *Decoder) char(code uint16) (byte, bool) {
	if int(code) >= len(usLayout) {
		return 0, false
	}
	k := usLayout[code]
	if k.plain == 0 {
		return 0, false
	}
	shifted := d.shift[0] || d.shift[1]
	if k.plain >= 'a' && k.plain <= 'z' {
		if shifted != d.capsLock {
			return k.shifted, true
		}
		return k.plain, true
	}
	if shifted && k.shifted != 0 {
		return k.shifted, true
	}
	return k.plain, true
}

func (d *Decoder) maxLen() int {
	if d.MaxLen > 0 {
		return d.MaxLen
	}
	return DefaultMaxLen
}

func (d *Decoder) gap() time.Duration {
	if d.Gap > 0 {
		return d.Gap
	}
	return DefaultGap
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

type keyChar struct{ plain, shifted byte }

// usLayout maps evdev key codes to the characters of the US layout.
var usLayout = func() [evdev.KEY_KPDOT + 64]keyChar {
	var m [evdev.KEY_KPDOT + 64]keyChar
	set := func(code int, plain, shifted byte) { m[code] = keyChar{plain, shifted} }
	for i, c := range "1234567890" {
		set(evdev.KEY_1+i, byte(c), "!@#$%^&*()"[i])
	}
	for i, c := range "qwertyuiop" {
		set(evdev.KEY_Q+i, byte(c), byte(c)-'a'+'A')
	}
	for i, c := range "asdfghjkl" {
		set(evdev.KEY_A+i, byte(c), byte(c)-'a'+'A')
	}
	for i, c := range "zxcvbnm" {
		set(evdev.KEY_Z+i, byte(c), byte(c)-'a'+'A')
	}
	set(evdev.KEY_MINUS, '-', '_')
	set(evdev.KEY_EQUAL, '=', '+')
	set(evdev.KEY_LEFTBRACE, '[', '{')
	set(evdev.KEY_RIGHTBRACE, ']', '}')
	set(evdev.KEY_SEMICOLON, ';', ':')
	set(evdev.KEY_APOSTROPHE, '\'', '"')
	set(evdev.KEY_GRAVE, '`', '~')
	set(evdev.KEY_BACKSLASH, '\\', '|')
	set(evdev.KEY_COMMA, ',', '<')
	set(evdev.KEY_DOT, '.', '>')
	set(evdev.KEY_SLASH, '/', '?')
	set(evdev.KEY_SPACE, ' ', ' ')
	set(evdev.KEY_TAB, '\t', '\t')
	for i, c := range "789-456+1230." {
		set(evdev.KEY_KP7+i, byte(c), byte(c))
	}
	set(evdev.KEY_KPASTERISK, '*', '*')
	set(evdev.KEY_KPSLASH, '/', '/')
	set(evdev.KEY_KPEQUAL, '=', '=')
	set(evdev.KEY_KPCOMMA, ',', ',')
	return m
}()

// Keystrokes returns the events a US-layout keyboard-wedge scanner sends for text
// followed by Enter: per character, shift if needed, press, SYN_REPORT, release,
// SYN_REPORT, starting at time at and step apart. It is the kernel's side of the
// boundary for simulators and tests; a character the layout cannot type is an
// error, as it is for a real scanner.
func Keystrokes(text string, at, step time.Duration) ([]Event, error) {
	var evs []Event
	key := func(code uint16, v int32) {
		evs = append(evs, Event{Time: at, Type: EvKey, Code: code, Value: v}, Event{Time: at, Type: EvSyn, Code: SynReport})
		at += step
	}
	for i := 0; i < len(text); i++ {
		code, shift, ok := keyFor(text[i])
		if !ok {
			return nil, fmt.Errorf("byte %d (%q) has no key on the US layout", i, text[i])
		}
		if shift {
			key(evdev.KEY_LEFTSHIFT, KeyPressed)
		}
		key(code, KeyPressed)
		key(code, KeyReleased)
		if shift {
			key(evdev.KEY_LEFTSHIFT, KeyReleased)
		}
	}
	key(evdev.KEY_ENTER, KeyPressed)
	key(evdev.KEY_ENTER, KeyReleased)
	return evs, nil
}

// keyFor finds the main-block key (not the keypad) that types c.
func keyFor(c byte) (code uint16, shift, ok bool) {
	for k := range usLayout {
		if k >= evdev.KEY_KP7 {
			break
		}
		switch c {
		case usLayout[k].plain:
			return uint16(k), false, c != 0
		case usLayout[k].shifted:
			return uint16(k), true, c != 0
		}
	}
	return 0, false, false
}
