// Package faceimage owns turning the facial image of DG2 (ICAO 9303 Part 10 §4,
// ISO/IEC 19794-5 image data: JPEG or JPEG 2000) into a JPEG that Chromium can
// show, since browsers do not render JPEG 2000. JPEG passes through unchanged;
// JPEG 2000, as a JP2 file or a raw codestream, is decoded with libopenjp2 from
// memory (the photo is personal data and never touches a file) and re-encoded with
// image/jpeg. Decoded dimensions are bounded before any sample buffer is allocated
// so that a hostile card cannot exhaust the kiosk's memory.
package faceimage

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"

	"github.com/vnkiosk/kiosk/devices/idcard/lds"
)

// MaxDimension bounds the width and height of a face image. ICAO 9303 portraits
// are a few hundred pixels; anything past this is hostile or broken.
const MaxDimension = 4096

// maxComponents bounds the component count: grey, grey+alpha, three colours,
// three colours+alpha.
const maxComponents = 4

// jpegQuality keeps the re-encoded portrait visually lossless for display.
const jpegQuality = 90

// Errors callers can distinguish with errors.Is.
var (
	ErrUnsupported = errors.New("faceimage: not a JPEG or JPEG 2000 image")
	ErrTooLarge    = fmt.Errorf("faceimage: image larger than %dx%d", MaxDimension, MaxDimension)
)

// ToJPEG returns img as a JPEG: unchanged if it already is one (after checking
// its header and dimensions), decoded and re-encoded if it is JPEG 2000.
func ToJPEG(img []byte) ([]byte, error) {
	switch lds.DetectImageMIME(img) {
	case lds.MIMEJPEG:
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(img))
		if err != nil {
			return nil, fmt.Errorf("faceimage: JPEG header: %w", err)
		}
		if err := checkSize(cfg.Width, cfg.Height); err != nil {
			return nil, err
		}
		return img, nil
	case lds.MIMEJP2, lds.MIMEJ2K:
		m, err := DecodeJPEG2000(img)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: jpegQuality}); err != nil {
			return nil, fmt.Errorf("faceimage: encode JPEG: %w", err)
		}
		return buf.Bytes(), nil
	}
	return nil, ErrUnsupported
}

func checkSize(w, h int) error {
	if w <= 0 || h <= 0 {
		return errors.New("faceimage: empty image")
	}
	if w > MaxDimension || h > MaxDimension {
		return ErrTooLarge
	}
	return nil
}

// DecodeJPEG2000 decodes a JP2 file or a raw JPEG 2000 codestream into an
// *image.Gray or *image.RGBA.
func DecodeJPEG2000(b []byte) (image.Image, error) {
	var jp2 bool
	switch lds.DetectImageMIME(b) {
	case lds.MIMEJP2:
		jp2 = true
	case lds.MIMEJ2K:
	default:
		return nil, ErrUnsupported
	}
	m, err := decodeOpenJPEG(b, jp2)
	if err != nil {
		return nil, fmt.Errorf("faceimage: JPEG 2000: %w", err)
	}
	return m, nil
}

// Colour spaces as libopenjp2 reports them (OPJ_COLOR_SPACE).
const (
	colourUnknown     = -1
	colourUnspecified = 0
	colourSRGB        = 1
	colourGrey        = 2
	colourSYCC        = 3
	colourEYCC        = 4
	colourCMYK        = 5
)

// plane is one decoded component: w×h samples covering the image with
// subsampling dx, dy and origin x0, y0 on the component's own grid.
type plane struct {
	samples      []int32
	w, h, x0, y0 int
	dx, dy       int
	prec         int
	signed       bool
}

// compose builds an 8-bit image of width×height whose top-left sample sits at
// (ox, oy) on the reference grid, from decoded planes. Sub-sampled components are
// upsampled by repetition; precisions other than 8 bits are rescaled.
func compose(planes []plane, ox, oy, width, height, colourSpace int) (image.Image, error) {
	if err := checkSize(width, height); err != nil {
		return nil, err
	}
	if len(planes) == 0 || len(planes) > maxComponents {
		return nil, fmt.Errorf("%d components", len(planes))
	}
	for i, p := range planes {
		if p.dx < 1 || p.dy < 1 || p.w < 1 || p.h < 1 || p.w > MaxDimension || p.h > MaxDimension ||
			len(p.samples) < p.w*p.h || p.prec < 1 || p.prec > 16 {
			return nil, fmt.Errorf("component %d has inconsistent geometry or %d-bit precision", i, p.prec)
		}
	}
	switch colourSpace {
	case colourEYCC, colourCMYK:
		return nil, fmt.Errorf("colour space %d not supported", colourSpace)
	}
	sample := func(p *plane, x, y int) uint8 {
		cx := (ox+x)/p.dx - p.x0
		cy := (oy+y)/p.dy - p.y0
		cx = min(max(cx, 0), p.w-1)
		cy = min(max(cy, 0), p.h-1)
		v := int64(p.samples[cy*p.w+cx])
		if p.signed {
			v += 1 << (p.prec - 1)
		}
		top := int64(1)<<p.prec - 1
		v = min(max(v, 0), top)
		if p.prec == 8 {
			return uint8(v)
		}
		return uint8((v*255 + top/2) / top)
	}
	rect := image.Rect(0, 0, width, height)
	if len(planes) < 3 || colourSpace == colourGrey {
		g := image.NewGray(rect)
		for y := range height {
			for x := range width {
				g.Pix[y*g.Stride+x] = sample(&planes[0], x, y)
			}
		}
		return g, nil
	}
	// Raw codestreams carry no colour space; like opj_decompress, take a full
	// resolution first component with sub-sampled others to be YCbCr.
	ycc := colourSpace == colourSYCC ||
		(colourSpace == colourUnspecified || colourSpace == colourUnknown) &&
			planes[0].dx == 1 && planes[0].dy == 1 &&
			(planes[1].dx > 1 || planes[1].dy > 1 || planes[2].dx > 1 || planes[2].dy > 1)
	out := image.NewRGBA(rect)
	for y := range height {
		for x := range width {
			a, b, c := sample(&planes[0], x, y), sample(&planes[1], x, y), sample(&planes[2], x, y)
			if ycc {
				a, b, c = color.YCbCrToRGB(a, b, c)
			}
			i := y*out.Stride + 4*x
			out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = a, b, c, 0xFF
		}
	}
	return out, nil
}
