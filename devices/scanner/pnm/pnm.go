// Package pnm decodes the binary Netpbm images (P4 bitmap, P5 greymap, P6 pixmap)
// that scanimage writes, the one raw format every SANE backend can produce. The
// header is read before any pixel buffer is allocated, and the caller bounds the
// pixel count, so a corrupt or hostile header costs an error, not the kiosk's
// memory. Greymaps and bitmaps decode to *image.Gray (a grey scan stays grey all
// the way to the PDF) and pixmaps to *image.RGBA, the two layouts image/jpeg
// encodes without a per-pixel interface call.
package pnm

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"io"
)

// ErrFormat means the data is not a binary PNM image this package decodes.
var ErrFormat = errors.New("pnm: not a binary PNM image")

// maxHeaderBytes bounds the header, comments included: scanimage writes about 40
// bytes, and a header that never ends must not be read forever.
const maxHeaderBytes = 4096

// maxDimension bounds width and height (1200 dpi across a 500 mm bed is 23 622):
// it keeps width*height*6 far from overflowing int64.
const maxDimension = 1 << 20

// Header is a PNM header.
type Header struct {
	Magic  string // "P4", "P5" or "P6"
	Width  int
	Height int
	MaxVal int // 1 for P4; up to 255 for one byte per sample, up to 65535 for two
	Size   int // bytes the header takes, up to and including the whitespace before the raster
}

// Channels is the number of samples per pixel.
func (h Header) Channels() int {
	if h.Magic == "P6" {
		return 3
	}
	return 1
}

// RowBytes is the length of one raster row.
func (h Header) RowBytes() int {
	switch {
	case h.Magic == "P4":
		return (h.Width + 7) / 8
	case h.MaxVal > 255:
		return h.Width * h.Channels() * 2
	default:
		return h.Width * h.Channels()
	}
}

// RasterBytes is the length of the pixel data that follows the header.
func (h Header) RasterBytes() int64 { return int64(h.RowBytes()) * int64(h.Height) }

// Pixels is Width*Height.
func (h Header) Pixels() int64 { return int64(h.Width) * int64(h.Height) }

// ReadHeader reads a header from r, leaving r at the first raster byte.
func ReadHeader(r *bufio.Reader) (Header, error) {
	hr := headerReader{r: r}
	var h Header
	m0, err := hr.byte()
	if err != nil {
		return h, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	m1, err := hr.byte()
	if err != nil {
		return h, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if m0 != 'P' || (m1 != '4' && m1 != '5' && m1 != '6') {
		return h, fmt.Errorf("%w: magic %q", ErrFormat, []byte{m0, m1})
	}
	h.Magic = string([]byte{m0, m1})
	fields := []*int{&h.Width, &h.Height, &h.MaxVal}
	if h.Magic == "P4" {
		fields = fields[:2]
		h.MaxVal = 1
	}
	for _, f := range fields {
		if *f, err = hr.number(); err != nil {
			return h, fmt.Errorf("%w: %s header: %w", ErrFormat, h.Magic, err)
		}
	}
	// Exactly one whitespace byte separates the header from the raster; number()
	// stopped on it without consuming it.
	c, err := hr.byte()
	if err != nil || !isSpace(c) {
		return h, fmt.Errorf("%w: no whitespace before the raster", ErrFormat)
	}
	h.Size = hr.n
	switch {
	case h.Width < 1 || h.Height < 1 || h.Width > maxDimension || h.Height > maxDimension:
		return h, fmt.Errorf("%w: size %dx%d", ErrFormat, h.Width, h.Height)
	case h.MaxVal < 1 || h.MaxVal > 65535:
		return h, fmt.Errorf("%w: maxval %d", ErrFormat, h.MaxVal)
	}
	return h, nil
}

type headerReader struct {
	r *bufio.Reader
	n int
}

func (hr *headerReader) byte() (byte, error) {
	if hr.n >= maxHeaderBytes {
		return 0, fmt.Errorf("header longer than %d bytes", maxHeaderBytes)
	}
	c, err := hr.r.ReadByte()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	hr.n++
	return c, nil
}

// number skips whitespace and comments, then reads a decimal number and stops
// before the byte that ends it.
func (hr *headerReader) number() (int, error) {
	c, err := hr.byte()
	for err == nil && (isSpace(c) || c == '#') {
		if c == '#' {
			for err == nil && c != '\n' && c != '\r' {
				c, err = hr.byte()
			}
		}
		if err == nil {
			c, err = hr.byte()
		}
	}
	if err != nil {
		return 0, err
	}
	if c < '0' || c > '9' {
		return 0, fmt.Errorf("expected a number, found %q", c)
	}
	v := 0
	for {
		v = v*10 + int(c-'0')
		if v > maxDimension {
			return 0, fmt.Errorf("number larger than %d", maxDimension)
		}
		next, err := hr.r.Peek(1)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if next[0] < '0' || next[0] > '9' {
			return v, nil
		}
		if c, err = hr.byte(); err != nil {
			return 0, err
		}
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// Decode reads one image from r, refusing images of more than maxPixels pixels
// before allocating them.
func Decode(r io.Reader, maxPixels int64) (image.Image, Header, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	h, err := ReadHeader(br)
	if err != nil {
		return nil, h, err
	}
	m, err := DecodeRaster(br, h, maxPixels)
	return m, h, err
}

// DecodeRaster reads the raster h describes from r.
func DecodeRaster(r io.Reader, h Header, maxPixels int64) (image.Image, error) {
	if h.Pixels() > maxPixels {
		return nil, fmt.Errorf("pnm: %dx%d image exceeds the limit of %d pixels", h.Width, h.Height, maxPixels)
	}
	rect := image.Rect(0, 0, h.Width, h.Height)
	row := make([]byte, h.RowBytes())
	readRow := func(y int) error {
		if _, err := io.ReadFull(r, row); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("pnm: raster truncated at row %d of %d: %w", y, h.Height, err)
		}
		return nil
	}
	scale := sampleScaler(h.MaxVal)
	switch h.Magic {
	case "P4":
		m := image.NewGray(rect)
		for y := range h.Height {
			if err := readRow(y); err != nil {
				return nil, err
			}
			px := m.Pix[y*m.Stride : y*m.Stride+h.Width]
			for x := range px {
				// In a PBM, 1 is black.
				if row[x>>3]&(0x80>>(x&7)) != 0 {
					px[x] = 0
				} else {
					px[x] = 0xff
				}
			}
		}
		return m, nil
	case "P5":
		m := image.NewGray(rect)
		for y := range h.Height {
			if err := readRow(y); err != nil {
				return nil, err
			}
			scale(m.Pix[y*m.Stride:y*m.Stride+h.Width], row)
		}
		return m, nil
	case "P6":
		m := image.NewRGBA(rect)
		rgb := make([]byte, h.Width*3)
		for y := range h.Height {
			if err := readRow(y); err != nil {
				return nil, err
			}
			scale(rgb, row)
			px := m.Pix[y*m.Stride : y*m.Stride+h.Width*4]
			for x := range h.Width {
				px[4*x], px[4*x+1], px[4*x+2], px[4*x+3] = rgb[3*x], rgb[3*x+1], rgb[3*x+2], 0xff
			}
		}
		return m, nil
	}
	return nil, fmt.Errorf("%w: magic %q", ErrFormat, h.Magic)
}

// sampleScaler returns a function that maps a raw row of samples with the given
// maxval onto 0..255: one byte per sample up to maxval 255, two big-endian bytes
// above. Samples above maxval (a corrupt file) saturate rather than wrap.
func sampleScaler(maxVal int) func(dst, src []byte) {
	if maxVal == 255 {
		return func(dst, src []byte) { copy(dst, src) }
	}
	scale := func(v int) byte {
		if v >= maxVal {
			return 0xff
		}
		return byte((v*255 + maxVal/2) / maxVal)
	}
	if maxVal < 256 {
		return func(dst, src []byte) {
			for i, v := range src {
				dst[i] = scale(int(v))
			}
		}
	}
	return func(dst, src []byte) {
		for i := range dst {
			dst[i] = scale(int(src[2*i])<<8 | int(src[2*i+1]))
		}
	}
}
