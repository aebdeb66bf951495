// Package raster owns the 1-bit images a thermal head prints: the Bitmap type,
// Vietnamese text set in DejaVu Sans (NFC-normalised, word-wrapped, aligned,
// thresholded to dots) and QR symbols drawn module by module. Text goes to the
// printer as pixels because printer code pages (TCVN-3, CP1258, VISCII) drop or
// mangle the stacked diacritics of ệ, ẫ, ặ on cheap printers; a raster prints
// the same on every ESC/POS head.
package raster

import (
	"image"
	"image/color"

	"github.com/vnkiosk/kiosk/devices/printer/escpos"
)

// Head widths in dots of the two receipt papers (8 dots/mm, less the margins
// the mechanism cannot print).
const (
	Width58 = 384
	Width80 = 576
)

// WidthForMM returns the head width for a paper width of 58 or 80 mm.
func WidthForMM(mm int) (int, bool) {
	switch mm {
	case 58:
		return Width58, true
	case 80:
		return Width80, true
	}
	return 0, false
}

// Bitmap is a 1-bit image packed as GS v 0 wants it: rows of Stride bytes, most
// significant bit leftmost, a set bit is a black dot. Width is a multiple of 8.
type Bitmap struct {
	Width, Height, Stride int
	Bits                  []byte
}

// NewBitmap returns a white bitmap, its width rounded up to a multiple of 8.
func NewBitmap(width, height int) *Bitmap {
	width = max(0, (width+7)&^7)
	height = max(0, height)
	return &Bitmap{Width: width, Height: height, Stride: width / 8, Bits: make([]byte, width/8*height)}
}

// Black reports whether the dot at (x, y) is black; outside the bitmap is white.
func (b *Bitmap) Black(x, y int) bool {
	if x < 0 || y < 0 || x >= b.Width || y >= b.Height {
		return false
	}
	return b.Bits[y*b.Stride+x/8]&(0x80>>(x%8)) != 0
}

// Set blackens the dot at (x, y); outside the bitmap it does nothing.
func (b *Bitmap) Set(x, y int) {
	if x < 0 || y < 0 || x >= b.Width || y >= b.Height {
		return
	}
	b.Bits[y*b.Stride+x/8] |= 0x80 >> (x % 8)
}

// Fill blackens r, clipped to the bitmap.
func (b *Bitmap) Fill(r image.Rectangle) {
	r = r.Intersect(image.Rect(0, 0, b.Width, b.Height))
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			b.Bits[y*b.Stride+x/8] |= 0x80 >> (x % 8)
		}
	}
}

// Grow adds white rows at the bottom.
func (b *Bitmap) Grow(rows int) {
	if rows <= 0 {
		return
	}
	b.Bits = append(b.Bits, make([]byte, rows*b.Stride)...)
	b.Height += rows
}

// Draw ORs src into b with its top-left corner at (x, y), clipped.
func (b *Bitmap) Draw(src *Bitmap, x, y int) {
	if x%8 == 0 && x >= 0 {
		// Byte-aligned: whole bytes, the common case of full-width blocks.
		for sy := 0; sy < src.Height; sy++ {
			dy := y + sy
			if dy < 0 || dy >= b.Height {
				continue
			}
			drow := b.Bits[dy*b.Stride : (dy+1)*b.Stride]
			srow := src.Bits[sy*src.Stride : (sy+1)*src.Stride]
			for i, v := range srow {
				if j := x/8 + i; j < len(drow) {
					drow[j] |= v
				}
			}
		}
		return
	}
	for sy := 0; sy < src.Height; sy++ {
		for sx := 0; sx < src.Width; sx++ {
			if src.Black(sx, sy) {
				b.Set(x+sx, y+sy)
			}
		}
	}
}

// Escpos returns the bitmap as GS v 0 carries it, sharing the bits.
func (b *Bitmap) Escpos() escpos.Raster {
	return escpos.Raster{Width: b.Width, Height: b.Height, Bits: b.Bits}
}

// Paper is the palette of a thermal print: index 0 white paper, 1 black dot.
var Paper = color.Palette{color.Gray{Y: 0xFF}, color.Gray{Y: 0}}

// Image returns the bitmap as a two-colour paletted image (PNG writes it with
// one bit per pixel).
func (b *Bitmap) Image() *image.Paletted {
	img := image.NewPaletted(image.Rect(0, 0, b.Width, b.Height), Paper)
	for y := 0; y < b.Height; y++ {
		row := b.Bits[y*b.Stride : (y+1)*b.Stride]
		pix := img.Pix[y*img.Stride:]
		for i, v := range row {
			if v == 0 {
				continue
			}
			for bit := range 8 {
				if v&(0x80>>bit) != 0 {
					pix[i*8+bit] = 1
				}
			}
		}
	}
	return img
}

// BlankRows reports whether rows y0..y1-1 are all white.
func (b *Bitmap) BlankRows(y0, y1 int) bool {
	for _, v := range b.Bits[y0*b.Stride : y1*b.Stride] {
		if v != 0 {
			return false
		}
	}
	return true
}
