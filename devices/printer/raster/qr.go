package raster

import (
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// QRLevel is the error correction every kiosk QR uses, M (15 %): the level
// GS ( k is given too, so raster and native symbols are alike.
const QRLevel = qrcode.Medium

// QRModules returns the number of modules across the symbol for payload,
// without the quiet zone.
func QRModules(payload string) (int, error) {
	q, err := newQR(payload)
	if err != nil {
		return 0, err
	}
	return len(q.Bitmap()), nil
}

// QR draws payload as a QR symbol (model 2, level M, smallest version) with
// each module a module×module square of dots, without the quiet zone: the
// caller leaves white space around it. The bitmap's width is rounded up to a
// multiple of 8; the extra columns are white.
func QR(payload string, module int) (*Bitmap, error) {
	if module < 1 || module > 32 {
		return nil, fmt.Errorf("raster: QR module size %d outside 1..32", module)
	}
	q, err := newQR(payload)
	if err != nil {
		return nil, err
	}
	return DrawQR(q.Bitmap(), module), nil
}

// DrawQR scales a module matrix (true = dark) to dots.
func DrawQR(modules [][]bool, module int) *Bitmap {
	n := len(modules)
	bm := NewBitmap(n*module, n*module)
	for my, row := range modules {
		for mx, dark := range row {
			if !dark {
				continue
			}
			for y := my * module; y < (my+1)*module; y++ {
				for x := mx * module; x < (mx+1)*module; x++ {
					bm.Bits[y*bm.Stride+x/8] |= 0x80 >> (x % 8)
				}
			}
		}
	}
	return bm
}

// ModulesOf encodes payload as a QR module matrix at level, without quiet zone.
func ModulesOf(payload string, level qrcode.RecoveryLevel) ([][]bool, error) {
	q, err := qrcode.New(payload, level)
	if err != nil {
		return nil, fmt.Errorf("raster: encode QR: %w", err)
	}
	q.DisableBorder = true
	return q.Bitmap(), nil
}

func newQR(payload string) (*qrcode.QRCode, error) {
	if payload == "" {
		return nil, fmt.Errorf("raster: empty QR payload")
	}
	q, err := qrcode.New(payload, QRLevel)
	if err != nil {
		return nil, fmt.Errorf("raster: encode QR: %w", err)
	}
	q.DisableBorder = true
	return q, nil
}
