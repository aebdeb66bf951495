// Package layout owns what a receipt looks like: a Page is plain data (text
// blocks, QR codes, rules, space), the templates the kiosk flows print — queue
// ticket, dossier receipt, fee e-receipt, insurance summary — turn their fields
// into a Page, and Encode turns a Page into the ESC/POS bytes of one ticket for
// a 58 or 80 mm head: text as raster bands, QR as raster or native GS ( k, a
// partial cut at the end.
package layout

import (
	"errors"
	"fmt"
	"image"

	"github.com/vnkiosk/kiosk/devices/printer/escpos"
	"github.com/vnkiosk/kiosk/devices/printer/raster"
)

// Align is a block's justification.
type Align = escpos.Align

// Justifications.
const (
	Left   = escpos.Left
	Center = escpos.Center
	Right  = escpos.Right
)

// Size is a text size. The sizes are in dots, the same on both papers, so a
// ticket reads the same on either; 58 mm just wraps sooner.
type Size int

// Text sizes.
const (
	Normal Size = iota // 24 dots (3 mm em): body text
	Small              // 20 dots: footers
	Large              // 34 dots: titles, amounts
	Huge               // 120 dots: queue numbers, shrunk to fit one line
)

// Px is the em size in dots.
func (s Size) Px() int {
	switch s {
	case Small:
		return 20
	case Large:
		return 34
	case Huge:
		return 120
	}
	return 24
}

// Block is one element of a page: Text, QR, Rule or Space.
type Block interface{ isBlock() }

// Text is a paragraph, wrapped to the paper width. "\n" starts a new line.
type Text struct {
	Text  string
	Size  Size
	Bold  bool
	Align Align
}

// QR is a centred QR code of Payload, error correction M, with a quiet zone.
type QR struct {
	Payload string
}

// Rule is a horizontal line across the paper.
type Rule struct{}

// Space is white space of Dots rows (8 dots per mm).
type Space struct {
	Dots int
}

func (Text) isBlock()  {}
func (QR) isBlock()    {}
func (Rule) isBlock()  {}
func (Space) isBlock() {}

// Page is one ticket, top to bottom; it ends with a cut.
type Page struct {
	Blocks []Block
}

// Add appends blocks.
func (p *Page) Add(b ...Block) { p.Blocks = append(p.Blocks, b...) }

// Options say how a page is encoded for one printer.
type Options struct {
	Width int           // head width in dots: raster.Width58 or raster.Width80
	Fonts *raster.Fonts // raster.DejaVu() in production
	// NativeQR sends QR codes as GS ( k for the printer to draw; otherwise
	// they are drawn here and sent as raster like the text, which every
	// ESC/POS printer prints the same.
	NativeQR bool
}

// Margin is the white border, in dots, left and right of every block.
const Margin = 8

// Layout constants in dots.
const (
	ruleHeight   = 16 // the line and the space around it
	ruleWeight   = 2
	qrQuietZone  = 4 // modules of white around a symbol, as ISO/IEC 18004 asks
	qrMaxModule  = 8
	qrMinModule  = 2
	maxSpaceDots = 2000
)

// ErrEmptyPage is returned for a page with no blocks.
var ErrEmptyPage = errors.New("layout: empty page")

// QRModuleSize picks the module size in dots for a symbol of n modules across:
// as large as fits in a bit over half the paper width (big modules scan from
// old phone cameras), at least 2 dots.
func QRModuleSize(n, width int) int {
	if n <= 0 {
		return qrMinModule
	}
	return max(qrMinModule, min(qrMaxModule, width*55/100/n))
}

// Encode returns the ESC/POS bytes of the page: ESC @, the blocks, GS V 66 0.
func Encode(p Page, o Options) ([]byte, error) {
	var e escpos.Encoder
	if err := EncodeTo(&e, p, o); err != nil {
		return nil, err
	}
	return e.Bytes()
}

// EncodeTo appends the page's commands to e, so a caller can reuse an
// encoder's buffer across tickets.
func EncodeTo(e *escpos.Encoder, p Page, o Options) error {
	if o.Width != raster.Width58 && o.Width != raster.Width80 {
		return fmt.Errorf("layout: head width %d dots; expected %d (58 mm) or %d (80 mm)", o.Width, raster.Width58, raster.Width80)
	}
	if o.Fonts == nil {
		return errors.New("layout: no fonts")
	}
	if len(p.Blocks) == 0 {
		return ErrEmptyPage
	}
	e.Init()
	run := raster.NewBitmap(o.Width, 0)
	// The encoder copies the bands, so the run is emptied in place and reused.
	flush := func() {
		if run.Height > 0 {
			e.Raster(run.Escpos())
			run.Bits, run.Height = run.Bits[:0], 0
		}
	}
	for i, b := range p.Blocks {
		switch b := b.(type) {
		case Text:
			bm, err := o.Fonts.Text(b.Text, raster.Style{Px: b.Size.Px(), Bold: b.Bold, Align: b.Align, Fit: b.Size == Huge}, o.Width, Margin)
			if err != nil {
				return fmt.Errorf("layout: block %d: %w", i, err)
			}
			y := run.Height
			run.Grow(bm.Height)
			run.Draw(bm, 0, y)
		case Rule:
			y := run.Height
			run.Grow(ruleHeight)
			run.Fill(image.Rect(Margin, y+(ruleHeight-ruleWeight)/2, o.Width-Margin, y+(ruleHeight+ruleWeight)/2))
		case Space:
			if b.Dots < 0 || b.Dots > maxSpaceDots {
				return fmt.Errorf("layout: block %d: space of %d dots outside 0..%d", i, b.Dots, maxSpaceDots)
			}
			run.Grow(b.Dots)
		case QR:
			if err := addQR(e, run, b, o, flush); err != nil {
				return fmt.Errorf("layout: block %d: %w", i, err)
			}
		default:
			return fmt.Errorf("layout: block %d: unknown block %T", i, b)
		}
	}
	flush()
	e.Cut(escpos.PartialCutAfterFeed)
	_, err := e.Bytes()
	return err
}

func addQR(e *escpos.Encoder, run *raster.Bitmap, q QR, o Options, flush func()) error {
	modules, err := raster.ModulesOf(q.Payload, raster.QRLevel)
	if err != nil {
		return err
	}
	module := QRModuleSize(len(modules), o.Width)
	quiet := qrQuietZone * module
	if o.NativeQR {
		if len(q.Payload) > escpos.MaxQRBytes {
			return fmt.Errorf("QR payload of %d bytes exceeds %d", len(q.Payload), escpos.MaxQRBytes)
		}
		run.Grow(quiet)
		flush()
		e.Align(escpos.Center)
		e.QR([]byte(q.Payload), module)
		e.Align(escpos.Left)
		run.Grow(quiet) // starts the next raster run
		return nil
	}
	sym := raster.DrawQR(modules, module)
	side := len(modules) * module
	y := run.Height + quiet
	run.Grow(quiet + side + quiet)
	run.Draw(sym, (o.Width-side)/2, y)
	return nil
}
