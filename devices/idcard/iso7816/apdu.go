// Package iso7816 owns the ISO/IEC 7816-4 command and response APDU: encoding in
// short and extended length, status words, and a Conn that sends commands over a raw
// transport while handling the 61xx (more data) and 6Cxx (wrong Le) answers and
// counting what crosses the wire. It never logs APDU contents: they carry personal
// data and keys.
package iso7816

import (
	"errors"
	"fmt"
)

// Limits of the two length encodings (ISO/IEC 7816-4 §5.1).
const (
	MaxShortNc    = 255
	MaxShortNe    = 256
	MaxExtendedNc = 65535
	MaxExtendedNe = 65536
)

// ErrNeedsExtended is returned (wrapped) when a command needs extended length but
// short encoding was requested. Callers detect it with errors.Is and fall back to
// smaller commands, as many cards and readers refuse extended-length APDUs.
var ErrNeedsExtended = errors.New("iso7816: command needs extended length")

// Command is a command APDU. Ne is the maximum number of response data bytes
// expected: 0 means no response data, 256 (short) or 65536 (extended) means "as
// many as available" and is encoded as Le=00 / Le=0000.
type Command struct {
	CLA, INS, P1, P2 byte
	Data             []byte
	Ne               int
}

// NeedsExtended reports whether the command cannot be sent in short form.
func (c Command) NeedsExtended() bool {
	return len(c.Data) > MaxShortNc || c.Ne > MaxShortNe
}

// Bytes encodes the command. With extended false it fails if the command needs
// extended length; with extended true it always uses the extended form when there is
// a body or Le (cases 2E, 3E, 4E).
func (c Command) Bytes(extended bool) ([]byte, error) {
	if len(c.Data) > MaxExtendedNc {
		return nil, fmt.Errorf("iso7816: command data of %d bytes exceeds %d", len(c.Data), MaxExtendedNc)
	}
	if c.Ne < 0 || c.Ne > MaxExtendedNe {
		return nil, fmt.Errorf("iso7816: Ne %d out of range", c.Ne)
	}
	if !extended && c.NeedsExtended() {
		return nil, fmt.Errorf("command (Nc=%d, Ne=%d): %w", len(c.Data), c.Ne, ErrNeedsExtended)
	}
	b := make([]byte, 0, 4+3+len(c.Data)+3)
	b = append(b, c.CLA, c.INS, c.P1, c.P2)
	nc := len(c.Data)
	switch {
	case !extended:
		if nc > 0 {
			b = append(b, byte(nc))
			b = append(b, c.Data...)
		}
		if c.Ne > 0 {
			b = append(b, byte(c.Ne)) // 256 encodes as 00
		}
	default:
		if nc > 0 {
			b = append(b, 0, byte(nc>>8), byte(nc))
			b = append(b, c.Data...)
		}
		if c.Ne > 0 {
			if nc == 0 {
				b = append(b, 0)
			}
			b = append(b, byte(c.Ne>>8), byte(c.Ne)) // 65536 encodes as 0000
		}
	}
	return b, nil
}

// ParseCommand decodes a command APDU in short or extended form. The virtual card
// and fuzz tests use it; Ne is returned as the number of bytes expected.
func ParseCommand(b []byte) (Command, error) {
	if len(b) < 4 {
		return Command{}, errors.New("iso7816: command shorter than header")
	}
	c := Command{CLA: b[0], INS: b[1], P1: b[2], P2: b[3]}
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
		return c, nil
	case len(body) == 1: // case 2S
		c.Ne = int(body[0])
		if c.Ne == 0 {
			c.Ne = MaxShortNe
		}
		return c, nil
	case body[0] != 0: // case 3S or 4S
		nc := int(body[0])
		switch len(body) {
		case 1 + nc:
		case 2 + nc:
			c.Ne = int(body[1+nc])
			if c.Ne == 0 {
				c.Ne = MaxShortNe
			}
		default:
			return Command{}, fmt.Errorf("iso7816: short command body of %d bytes does not match Lc %d", len(body), nc)
		}
		c.Data = append([]byte(nil), body[1:1+nc]...)
		return c, nil
	case len(body) == 3: // case 2E
		c.Ne = int(body[1])<<8 | int(body[2])
		if c.Ne == 0 {
			c.Ne = MaxExtendedNe
		}
		return c, nil
	default: // case 3E or 4E
		if len(body) < 3 {
			return Command{}, errors.New("iso7816: truncated extended Lc")
		}
		nc := int(body[1])<<8 | int(body[2])
		if nc == 0 {
			return Command{}, errors.New("iso7816: extended Lc of zero")
		}
		rest := body[3:]
		switch len(rest) {
		case nc:
		case nc + 2:
			c.Ne = int(rest[nc])<<8 | int(rest[nc+1])
			if c.Ne == 0 {
				c.Ne = MaxExtendedNe
			}
		default:
			return Command{}, fmt.Errorf("iso7816: extended command body of %d bytes does not match Lc %d", len(rest), nc)
		}
		c.Data = append([]byte(nil), rest[:nc]...)
		return c, nil
	}
}

// Response is a response APDU: data then the two status bytes.
type Response struct {
	Data []byte
	SW   SW
}

// ParseResponse splits a response APDU into data and status word.
func ParseResponse(b []byte) (Response, error) {
	if len(b) < 2 {
		return Response{}, fmt.Errorf("iso7816: response of %d bytes has no status word", len(b))
	}
	n := len(b) - 2
	return Response{Data: b[:n:n], SW: SW(uint16(b[n])<<8 | uint16(b[n+1]))}, nil
}

// Bytes encodes the response.
func (r Response) Bytes() []byte {
	b := make([]byte, 0, len(r.Data)+2)
	b = append(b, r.Data...)
	return append(b, byte(r.SW>>8), byte(r.SW))
}

// OK reports whether the status word is 9000.
func (r Response) OK() bool { return r.SW == SWOK }

// Err returns nil for 9000 and a *StatusError otherwise.
func (r Response) Err() error {
	if r.SW == SWOK {
		return nil
	}
	return &StatusError{SW: r.SW}
}
