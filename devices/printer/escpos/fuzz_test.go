package escpos

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzNext feeds arbitrary host bytes to the parser the simulator runs on:
// it must never panic, always make progress, and return commands whose Raw is
// exactly the bytes consumed.
func FuzzNext(f *testing.F) {
	var e Encoder
	e.Init()
	e.Align(Center)
	e.Raster(Raster{Width: 16, Height: 2, Bits: []byte{1, 2, 3, 4}})
	e.QR([]byte("https://dichvucong.gov.vn"), 4)
	e.Cut(PartialCutAfterFeed)
	seed, _ := e.Bytes()
	f.Add(seed)
	f.Add([]byte("Xin chào\n"))
	f.Add([]byte{DLE, EOT, 1, DLE, EOT, 4})
	f.Add([]byte{ESC, '&', 3, 0, 255, 1})
	f.Add([]byte{FS, 'q', 255, 1, 0, 1, 0})
	f.Add([]byte{GS, 'k', 2, '1', '2'})
	f.Fuzz(func(t *testing.T, b []byte) {
		rest := b
		for len(rest) > 0 {
			c, n, err := Next(rest)
			if errors.Is(err, ErrShort) || errors.Is(err, ErrTooLarge) {
				if n != 0 {
					t.Fatalf("error %v with n = %d", err, n)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if n <= 0 || n > len(rest) {
				t.Fatalf("n = %d of %d", n, len(rest))
			}
			if !bytes.Equal(c.Raw, rest[:n]) {
				t.Fatalf("Raw % X is not the %d bytes consumed", c.Raw, n)
			}
			if c.Op == OpRaster && len(c.Data) != c.Width/8*c.Height {
				t.Fatalf("raster %dx%d with %d bytes", c.Width, c.Height, len(c.Data))
			}
			rest = rest[n:]
		}
	})
}
