package printersim

import (
	"errors"
	"testing"

	"github.com/vnkiosk/kiosk/devices/printer/escpos"
)

// FuzzInterpret runs arbitrary host bytes through the simulator's interpreter
// (parser, raster and QR drawing, cuts) without a network: garbage must never
// panic or grow a page past its limit.
func FuzzInterpret(f *testing.F) {
	var e escpos.Encoder
	e.Init()
	e.Align(escpos.Center)
	e.Raster(escpos.Raster{Width: 16, Height: 2, Bits: []byte{0xF0, 0x0F, 0x10, 0x04}})
	e.QR([]byte("MAHOSO"), 3)
	e.Feed(2)
	e.Cut(escpos.PartialCutAfterFeed)
	seed, _ := e.Bytes()
	f.Add(seed)
	f.Add([]byte("HELLO\n\x1bd\x05\x1dV\x01"))
	f.Add([]byte{escpos.GS, 'v', '0', 3, 1, 0, 1, 0, 0xFF})
	f.Add([]byte{escpos.GS, '(', 'k', 3, 0, 49, 67, 16, escpos.GS, '(', 'k', 3, 0, 49, 81, 48})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := New(Options{Width: 384})
		if err != nil {
			t.Fatal(err)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		for len(b) > 0 {
			c, n, err := escpos.Next(b)
			if errors.Is(err, escpos.ErrShort) || errors.Is(err, escpos.ErrTooLarge) {
				return
			}
			p.exec(c)
			if p.page.Height > 2*maxPageRows {
				t.Fatalf("page grew to %d rows", p.page.Height)
			}
			b = b[n:]
		}
	})
}
