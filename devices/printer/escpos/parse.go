package escpos

import (
	"bytes"
	"errors"
	"fmt"
)

// Op is the kind of a parsed command.
type Op uint8

// Commands Next tells apart. Commands the simulator has no use for are still
// measured, so that their parameters are never mistaken for print data.
const (
	OpText           Op = iota + 1 // a run of printable bytes (Data)
	OpControl                      // a one-byte control: LF, CR, FF, HT, ... (N)
	OpRealtime                     // DLE EOT n, DLE ENQ n, DLE DC4 ...: answered on receipt, not in turn (N = DLE's second byte, Param = n)
	OpInit                         // ESC @
	OpAlign                        // ESC a n (N)
	OpFeedLines                    // ESC d n (N)
	OpFeedDots                     // ESC J n (N)
	OpRaster                       // GS v 0 m (N = m, Width in dots, Height, Data)
	OpQR                           // GS ( k with cn 49 (Param = fn, Data = the bytes after fn)
	OpCut                          // GS V m [n] (N = m, Param = n)
	OpTransmitStatus               // GS r n (N)
	OpOther                        // a command of known length the simulator does not act on
	OpUnknown                      // ESC, GS or FS followed by a byte not in the table: two bytes consumed
)

var opNames = [...]string{"?", "text", "control", "realtime", "init", "align", "feed-lines", "feed-dots",
	"raster", "qr", "cut", "transmit-status", "other", "unknown"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Command is one parsed command. Raw and Data alias the parsed buffer.
type Command struct {
	Op            Op
	Raw           []byte
	N, Param      byte
	Width, Height int // OpRaster, in dots
	Data          []byte
}

// MaxCommand bounds a single command's length (a GS v 0 header may announce
// 268 MB). Real printers stream such data; the simulator refuses it.
const MaxCommand = 4 << 20

var (
	// ErrShort means the buffer ends inside a command: read more and retry.
	ErrShort = errors.New("escpos: incomplete command")
	// ErrTooLarge means a command announces more than MaxCommand bytes.
	ErrTooLarge = errors.New("escpos: command longer than the parser accepts")
)

// Fixed total lengths of ESC, GS and FS commands by their second byte.
var (
	escLen = map[byte]int{
		' ': 3, '!': 3, '$': 4, '%': 3, '-': 3, '2': 2, '3': 3, '<': 2, '=': 3, '?': 3,
		'@': 2, 'E': 3, 'G': 3, 'J': 3, 'K': 3, 'L': 2, 'M': 3, 'R': 3, 'S': 2, 'T': 3,
		'U': 3, 'V': 3, 'W': 10, '\\': 4, 'a': 3, 'c': 4, 'd': 3, 'e': 3, 'i': 2, 'm': 2,
		'p': 5, 'r': 3, 't': 3, 'u': 3, 'v': 2, '{': 3,
	}
	gsLen = map[byte]int{
		'!': 3, '$': 4, '/': 3, ':': 2, 'B': 3, 'H': 3, 'I': 3, 'L': 4, 'P': 4, 'T': 3,
		'\\': 4, '^': 5, 'a': 3, 'b': 3, 'c': 2, 'f': 3, 'h': 3, 'j': 3, 'r': 3, 'w': 3, 'W': 4,
	}
	fsLen = map[byte]int{'!': 3, '&': 2, '-': 3, '.': 2, 'C': 3, 'S': 4, 'W': 3, 'p': 4}
)

// Next parses the command at the start of b and returns it with its length.
// It returns ErrShort when b ends inside a command and ErrTooLarge when a
// command announces more than MaxCommand bytes. Garbage never makes it panic:
// every byte is either a command, part of one, or a one-byte control.
func Next(b []byte) (Command, int, error) {
	if len(b) == 0 {
		return Command{}, 0, ErrShort
	}
	c := b[0]
	if c >= 0x20 {
		n := 1
		for n < len(b) && b[n] >= 0x20 {
			n++
		}
		return Command{Op: OpText, Raw: b[:n], Data: b[:n]}, n, nil
	}
	switch c {
	case DLE:
		return parseDLE(b)
	case ESC:
		return parseESC(b)
	case GS:
		return parseGS(b)
	case FS:
		return parseFS(b)
	}
	return Command{Op: OpControl, Raw: b[:1], N: c}, 1, nil
}

// need returns the command of length n at the start of b, or ErrShort.
func need(b []byte, n int, cmd Command) (Command, int, error) {
	if n > MaxCommand {
		return Command{}, 0, ErrTooLarge
	}
	if len(b) < n {
		return Command{}, 0, ErrShort
	}
	cmd.Raw = b[:n]
	return cmd, n, nil
}

func parseDLE(b []byte) (Command, int, error) {
	if len(b) < 2 {
		return Command{}, 0, ErrShort
	}
	switch b[1] {
	case EOT, ENQ:
		if len(b) < 3 {
			return Command{}, 0, ErrShort
		}
		return need(b, 3, Command{Op: OpRealtime, N: b[1], Param: b[2]})
	case DC4:
		if len(b) < 3 {
			return Command{}, 0, ErrShort
		}
		return need(b, 5, Command{Op: OpRealtime, N: b[1], Param: b[2]})
	}
	// A lone DLE is a control byte; what follows is parsed on its own.
	return Command{Op: OpControl, Raw: b[:1], N: DLE}, 1, nil
}

func parseESC(b []byte) (Command, int, error) {
	if len(b) < 2 {
		return Command{}, 0, ErrShort
	}
	arg := func(i int) (byte, bool) {
		if i < len(b) {
			return b[i], true
		}
		return 0, false
	}
	switch b[1] {
	case '@':
		return need(b, 2, Command{Op: OpInit})
	case 'a', 'd', 'J':
		n, ok := arg(2)
		if !ok {
			return Command{}, 0, ErrShort
		}
		op := OpFeedDots
		switch b[1] {
		case 'a':
			op = OpAlign
			if n >= '0' && n <= '2' {
				n -= '0' // ESC a accepts ASCII digits too
			}
		case 'd':
			op = OpFeedLines
		}
		return need(b, 3, Command{Op: op, N: n})
	case '*': // ESC * m nL nH d1...dk: bit image, 1 or 3 bytes per column
		if len(b) < 5 {
			return Command{}, 0, ErrShort
		}
		cols := int(b[3]) | int(b[4])<<8
		per := 1
		if b[2] == 32 || b[2] == 33 {
			per = 3
		}
		return need(b, 5+cols*per, Command{Op: OpOther})
	case 'D': // ESC D n1 ... NUL: tab positions, at most 32
		end := bytes.IndexByte(b[2:min(len(b), 2+33)], 0)
		if end < 0 {
			if len(b) >= 2+33 {
				return need(b, 2+33, Command{Op: OpOther})
			}
			return Command{}, 0, ErrShort
		}
		return need(b, 2+end+1, Command{Op: OpOther})
	case '&': // ESC & y c1 c2 [x d1...d(y*x)] for each character c1..c2
		if len(b) < 5 {
			return Command{}, 0, ErrShort
		}
		y, c1, c2 := int(b[2]), int(b[3]), int(b[4])
		n := 5
		for ch := c1; ch <= c2; ch++ {
			if n >= len(b) {
				return Command{}, 0, ErrShort
			}
			n += 1 + y*int(b[n])
			if n > MaxCommand {
				return Command{}, 0, ErrTooLarge
			}
		}
		return need(b, n, Command{Op: OpOther})
	}
	if n, ok := escLen[b[1]]; ok {
		return need(b, n, Command{Op: OpOther})
	}
	return Command{Op: OpUnknown, Raw: b[:2]}, 2, nil
}

func parseGS(b []byte) (Command, int, error) {
	if len(b) < 2 {
		return Command{}, 0, ErrShort
	}
	switch b[1] {
	case 'v':
		if len(b) < 8 {
			return Command{}, 0, ErrShort
		}
		if b[2] != '0' && b[2] != 0 {
			return Command{Op: OpUnknown, Raw: b[:2]}, 2, nil
		}
		stride := int(b[4]) | int(b[5])<<8
		rows := int(b[6]) | int(b[7])<<8
		cmd, n, err := need(b, 8+stride*rows, Command{Op: OpRaster, N: b[3] & 0x03, Width: stride * 8, Height: rows})
		if err == nil {
			cmd.Data = b[8:n]
		}
		return cmd, n, err
	case '(': // GS ( X pL pH ...: every function of this family is length-prefixed
		if len(b) < 5 {
			return Command{}, 0, ErrShort
		}
		p := int(b[3]) | int(b[4])<<8
		cmd := Command{Op: OpOther}
		if b[2] == 'k' && p >= 2 && len(b) >= 7 && b[5] == 49 {
			cmd.Op, cmd.Param = OpQR, b[6]
		}
		cmd, n, err := need(b, 5+p, cmd)
		if err == nil && cmd.Op == OpQR {
			cmd.Data = b[7:n]
		}
		return cmd, n, err
	case 'V':
		if len(b) < 3 {
			return Command{}, 0, ErrShort
		}
		switch m := b[2]; m {
		case 0, 1, 48, 49:
			return need(b, 3, Command{Op: OpCut, N: m})
		case 65, 66, 97, 98, 103, 104:
			if len(b) < 4 {
				return Command{}, 0, ErrShort
			}
			return need(b, 4, Command{Op: OpCut, N: m, Param: b[3]})
		}
		return need(b, 3, Command{Op: OpOther})
	case 'r':
		if len(b) < 3 {
			return Command{}, 0, ErrShort
		}
		return need(b, 3, Command{Op: OpTransmitStatus, N: b[2]})
	case 'k': // GS k m: barcode, NUL-terminated (m < 7) or counted (m >= 65)
		if len(b) < 3 {
			return Command{}, 0, ErrShort
		}
		if b[2] < 7 {
			end := bytes.IndexByte(b[3:min(len(b), 3+256)], 0)
			if end < 0 {
				if len(b) >= 3+256 {
					return need(b, 3+256, Command{Op: OpOther})
				}
				return Command{}, 0, ErrShort
			}
			return need(b, 3+end+1, Command{Op: OpOther})
		}
		if len(b) < 4 {
			return Command{}, 0, ErrShort
		}
		return need(b, 4+int(b[3]), Command{Op: OpOther})
	case '*': // GS * x y d: downloaded bit image of x*8 by y*8 dots
		if len(b) < 4 {
			return Command{}, 0, ErrShort
		}
		return need(b, 4+int(b[2])*int(b[3])*8, Command{Op: OpOther})
	case '8': // GS 8 L p1 p2 p3 p4 ...: graphics with a 32-bit length
		if len(b) < 7 {
			return Command{}, 0, ErrShort
		}
		p := int64(b[3]) | int64(b[4])<<8 | int64(b[5])<<16 | int64(b[6])<<24
		if p > MaxCommand {
			return Command{}, 0, ErrTooLarge
		}
		return need(b, 7+int(p), Command{Op: OpOther})
	}
	if n, ok := gsLen[b[1]]; ok {
		return need(b, n, Command{Op: OpOther})
	}
	return Command{Op: OpUnknown, Raw: b[:2]}, 2, nil
}

func parseFS(b []byte) (Command, int, error) {
	if len(b) < 2 {
		return Command{}, 0, ErrShort
	}
	switch b[1] {
	case '(':
		if len(b) < 5 {
			return Command{}, 0, ErrShort
		}
		return need(b, 5+(int(b[3])|int(b[4])<<8), Command{Op: OpOther})
	case 'q': // FS q n [xL xH yL yH d1...dk]1...[...]n: define NV bit images
		if len(b) < 3 {
			return Command{}, 0, ErrShort
		}
		n := 3
		for range int(b[2]) {
			if len(b) < n+4 {
				return Command{}, 0, ErrShort
			}
			x := int(b[n]) | int(b[n+1])<<8
			y := int(b[n+2]) | int(b[n+3])<<8
			n += 4 + x*y*8
			if n > MaxCommand {
				return Command{}, 0, ErrTooLarge
			}
		}
		return need(b, n, Command{Op: OpOther})
	}
	if n, ok := fsLen[b[1]]; ok {
		return need(b, n, Command{Op: OpOther})
	}
	return Command{Op: OpUnknown, Raw: b[:2]}, 2, nil
}
