package vietqr

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"

	qrcode "github.com/skip2/go-qrcode"
)

// MaxPNGSize bounds PNG's size argument, so a typo cannot allocate gigabytes.
const MaxPNGSize = 8192

// PNG renders the VietQR payload s as a size×size pixel PNG: a QR Code with error
// correction level M (what EMVCo MPM recommends: survives a scuffed or creased
// printout without making the symbol denser) and the 4-module quiet zone ISO/IEC
// 18004 requires. Every module is a whole number of pixels, so thermal printers and
// phone cameras see crisp, equal squares; the pixels left over widen the white
// margin. s must decode (see Decode), so a broken code never reaches paper.
func PNG(s string, size int) ([]byte, error) {
	if _, err := Decode(s); err != nil {
		return nil, fmt.Errorf("vietqr: refusing to render an invalid payload: %w", err)
	}
	q, err := qrcode.New(s, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("vietqr: QR encoding: %w", err)
	}
	// go-qrcode's bitmap includes its quiet zone of 4 modules on every side.
	bm := q.Bitmap()
	n := len(bm)
	if size < n || size > MaxPNGSize {
		return nil, fmt.Errorf("vietqr: PNG size %d px: want %d (one pixel per module, with the quiet zone) to %d", size, n, MaxPNGSize)
	}
	scale := size / n
	off := (size - n*scale) / 2
	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	for y, row := range bm {
		for x, dark := range row {
			if !dark {
				continue
			}
			for dy := range scale {
				line := img.Pix[img.PixOffset(off+x*scale, off+y*scale+dy):]
				for dx := range scale {
					line[dx] = 1
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("vietqr: PNG encoding: %w", err)
	}
	return buf.Bytes(), nil
}
