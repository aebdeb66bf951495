// Package escpos owns the ESC/POS byte protocol of receipt printers, in both
// directions: an Encoder that writes the few commands the kiosk prints with
// (initialise, alignment, GS v 0 raster bands, GS ( k native QR, feeds, cuts and
// the GS r paper-sensor request it uses as a completion fence), the real-time
// status requests DLE EOT n with the decoding of their answers, and Next, a
// parser of the command stream that the printer simulator interprets. Section
// names in comments follow Epson's ESC/POS Command Reference; cheap clones
// implement the same subset.
package escpos

import (
	"errors"
	"fmt"
)

// Control bytes that start commands.
const (
	HT  = 0x09
	LF  = 0x0A
	FF  = 0x0C
	CR  = 0x0D
	DLE = 0x10
	EOT = 0x04
	ENQ = 0x05
	DC4 = 0x14
	ESC = 0x1B
	FS  = 0x1C
	GS  = 0x1D
)

// Align is the justification set with ESC a n.
type Align byte

// Justifications.
const (
	Left   Align = 0
	Center Align = 1
	Right  Align = 2
)

func (a Align) String() string {
	switch a {
	case Left:
		return "left"
	case Center:
		return "center"
	case Right:
		return "right"
	}
	return fmt.Sprintf("Align(%d)", byte(a))
}

// Cut is a GS V cut function.
type Cut byte

// Cuts the encoder emits.
const (
	// PartialCutAfterFeed is GS V 66 0: feed to the cutting position, then cut
	// leaving one point uncut. The bottom margin is the head-to-cutter distance,
	// which the printer knows and the kiosk does not.
	PartialCutAfterFeed Cut = 66
	// PartialCut is GS V 1: cut where the paper is now.
	PartialCut Cut = 1
)

// DefaultBandRows is the tallest GS v 0 band the encoder sends. Cheap printers
// run out of image memory on one tall image; 128 rows of an 80 mm head are 9 KiB.
const DefaultBandRows = 128

// QR limits of GS ( k function 180/181 (model 2): module size 1..16 dots, and
// the byte-mode capacity of a version 40 symbol at error correction level M.
const (
	MaxQRModule = 16
	MaxQRBytes  = 2331
)

// QR error-correction levels as GS ( k function 169 encodes them.
const (
	QRLevelL byte = 48
	QRLevelM byte = 49
	QRLevelQ byte = 50
	QRLevelH byte = 51
)

// Raster is a 1-bit image as GS v 0 carries it: rows of Width/8 bytes, most
// significant bit leftmost, 1 = black.
type Raster struct {
	Width, Height int // dots; Width is a multiple of 8
	Bits          []byte
}

// ErrRaster reports an image GS v 0 cannot carry.
var ErrRaster = errors.New("escpos: invalid raster image")

// Encoder accumulates commands. An error sticks: once a command is invalid,
// later ones are ignored and Bytes returns the first error, so a caller builds a
// whole ticket and checks once.
type Encoder struct {
	b        []byte
	err      error
	BandRows int // 0 means DefaultBandRows
}

// Reset empties the encoder for reuse, keeping its buffer.
func (e *Encoder) Reset() { e.b, e.err = e.b[:0], nil }

// Bytes returns the commands so far, or the first error.
func (e *Encoder) Bytes() ([]byte, error) {
	if e.err != nil {
		return nil, e.err
	}
	return e.b, nil
}

func (e *Encoder) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

// Init is ESC @: clear the print buffer and return every mode to its power-on
// default, so a ticket never inherits the previous job's settings.
func (e *Encoder) Init() { e.b = append(e.b, ESC, '@') }

// Align is ESC a n. It applies to text, raster images and native QR symbols.
func (e *Encoder) Align(a Align) {
	if a > Right {
		e.fail(fmt.Errorf("escpos: alignment %d out of range", a))
		return
	}
	e.b = append(e.b, ESC, 'a', byte(a))
}

// Feed is ESC d n: print what is buffered and feed n lines. Feeds longer than
// 255 lines are split.
func (e *Encoder) Feed(lines int) {
	if lines < 0 {
		e.fail(fmt.Errorf("escpos: negative feed %d", lines))
		return
	}
	for lines > 0 {
		n := min(lines, 255)
		e.b = append(e.b, ESC, 'd', byte(n))
		lines -= n
	}
}

// Cut is GS V with the given function.
func (e *Encoder) Cut(c Cut) {
	switch c {
	case PartialCutAfterFeed:
		e.b = append(e.b, GS, 'V', byte(c), 0)
	case PartialCut:
		e.b = append(e.b, GS, 'V', byte(c))
	default:
		e.fail(fmt.Errorf("escpos: unsupported cut %d", c))
	}
}

// PaperSensorRequest is GS r 1. Unlike DLE EOT it is not a real-time command:
// the printer answers only after it has processed everything sent before it, so
// its answer proves the preceding ticket left the print buffer. Its answer has
// bit 4 clear, which tells it apart from DLE EOT answers (bit 4 set).
func (e *Encoder) PaperSensorRequest() { e.b = append(e.b, GS, 'r', 1) }

// Raster is GS v 0 in bands of BandRows rows (function "print raster bit
// image", normal density).
func (e *Encoder) Raster(img Raster) {
	if img.Width <= 0 || img.Width%8 != 0 || img.Width/8 > 0xFFFF || img.Height < 0 ||
		len(img.Bits) != img.Width/8*img.Height {
		e.fail(fmt.Errorf("%w: %dx%d dots with %d bytes (width must be a positive multiple of 8)",
			ErrRaster, img.Width, img.Height, len(img.Bits)))
		return
	}
	band := e.BandRows
	if band <= 0 {
		band = DefaultBandRows
	}
	band = min(band, 4095) // yL + yH*256 is at most 4095 on every model
	stride := img.Width / 8
	for y := 0; y < img.Height; y += band {
		h := min(band, img.Height-y)
		e.b = append(e.b, GS, 'v', '0', 0,
			byte(stride), byte(stride>>8), byte(h), byte(h>>8))
		e.b = append(e.b, img.Bits[y*stride:(y+h)*stride]...)
	}
}

// QR prints data as a native QR code (GS ( k, cn 49): model 2, the given module
// size in dots, error correction M, store the data, print the symbol. The
// printer picks the version; alignment is whatever ESC a set.
func (e *Encoder) QR(data []byte, module int) {
	switch {
	case len(data) == 0:
		e.fail(errors.New("escpos: empty QR data"))
		return
	case len(data) > MaxQRBytes:
		e.fail(fmt.Errorf("escpos: QR data of %d bytes exceeds %d", len(data), MaxQRBytes))
		return
	case module < 1 || module > MaxQRModule:
		e.fail(fmt.Errorf("escpos: QR module size %d outside 1..%d", module, MaxQRModule))
		return
	}
	e.b = append(e.b,
		GS, '(', 'k', 4, 0, 49, 65, 50, 0, // function 165: model 2
		GS, '(', 'k', 3, 0, 49, 67, byte(module), // function 167: module size
		GS, '(', 'k', 3, 0, 49, 69, QRLevelM, // function 169: error correction M
	)
	n := len(data) + 3
	e.b = append(e.b, GS, '(', 'k', byte(n), byte(n>>8), 49, 80, 48) // function 180: store
	e.b = append(e.b, data...)
	e.b = append(e.b, GS, '(', 'k', 3, 0, 49, 81, 48) // function 181: print
}

// Write appends raw bytes, for callers that need a command this encoder lacks.
func (e *Encoder) Write(p []byte) (int, error) {
	e.b = append(e.b, p...)
	return len(p), nil
}
