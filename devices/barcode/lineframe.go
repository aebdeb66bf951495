package barcode

import (
	"errors"
	"time"
	"unicode/utf8"
)

// Why the line framer threw bytes away.
var (
	errLineTooLong   = errors.New("frame longer than the bound, discarded up to its CR/LF")
	errLineAbandoned = errors.New("frame left without its CR/LF, discarded (is the scanner's suffix set to CR?)")
)

// lineFramer splits a serial scanner's byte stream into frames. A frame ends at CR
// or LF; the empty frame between the CR and LF of a CRLF is skipped, which makes
// CR, LF and CRLF scanners all work without configuration, however the bytes are
// split across reads. A frame that grows past max is discarded up to its
// terminator, so the next one starts clean; a partial frame that sits idle past
// gap is dropped before new bytes join it, so a glitch or a suffix-less scanner
// never glues garbage to the front of the next code.
type lineFramer struct {
	max      int
	gap      time.Duration
	buf      []byte
	overlong bool
	lastAt   time.Time
}

// feed takes the next byte, received at at. It returns a complete frame, or an
// error when it discards one; at most one of the two.
func (f *lineFramer) feed(c byte, at time.Time) ([]byte, error) {
	var dropped error
	if (len(f.buf) > 0 || f.overlong) && at.Sub(f.lastAt) > f.gap {
		dropped = errLineAbandoned
		if f.overlong {
			dropped = errLineTooLong
		}
		f.buf, f.overlong = f.buf[:0], false
	}
	f.lastAt = at
	if c == '\r' || c == '\n' {
		if f.overlong {
			f.overlong = false
			return nil, errLineTooLong // dropped is nil: overlong survived the gap test
		}
		if len(f.buf) == 0 {
			return nil, dropped
		}
		frame := append([]byte(nil), f.buf...)
		f.buf = f.buf[:0]
		return frame, nil
	}
	if f.overlong {
		return nil, dropped
	}
	if len(f.buf) >= f.max {
		f.buf, f.overlong = f.buf[:0], true
		return nil, dropped
	}
	f.buf = append(f.buf, c)
	return nil, dropped
}

// textLooksMangled reports signs that a frame is not the text that was encoded:
// bytes that are not UTF-8, the replacement character, control characters other
// than tab, and C1 controls (U+0080-U+009F), which never occur in text but do
// when UTF-8 Vietnamese was decoded as Latin-1 on the way (ễ = E1 BB 85 comes out
// as "á", "»", U+0085).
func textLooksMangled(b []byte) bool {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError: // invalid UTF-8, or a literal U+FFFD
			return true
		case r < 0x20 && r != '\t', r == 0x7f, r >= 0x80 && r <= 0x9f:
			return true
		}
		b = b[n:]
	}
	return false
}
