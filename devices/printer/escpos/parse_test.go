package escpos

import (
	"bytes"
	"errors"
	"testing"
)

func TestNext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []byte
		want Command // Raw is checked as in[:n]
		n    int
	}{
		{"text run stops at control", []byte("Xin chao\nrest"), Command{Op: OpText, Data: []byte("Xin chao")}, 8},
		{"LF", []byte{LF, 'a'}, Command{Op: OpControl, N: LF}, 1},
		{"init", []byte{ESC, '@', 'x'}, Command{Op: OpInit}, 2},
		{"align", []byte{ESC, 'a', 2}, Command{Op: OpAlign, N: 2}, 3},
		{"align ASCII digit", []byte{ESC, 'a', '1'}, Command{Op: OpAlign, N: 1}, 3},
		{"feed lines", []byte{ESC, 'd', 5}, Command{Op: OpFeedLines, N: 5}, 3},
		{"feed dots", []byte{ESC, 'J', 40}, Command{Op: OpFeedDots, N: 40}, 3},
		{"bold (other)", []byte{ESC, 'E', 1, 'A'}, Command{Op: OpOther}, 3},
		{"ESC * 24-dot", []byte{ESC, '*', 33, 2, 0, 1, 2, 3, 4, 5, 6, 'z'}, Command{Op: OpOther}, 11},
		{"ESC D tabs", []byte{ESC, 'D', 8, 16, 0, 'z'}, Command{Op: OpOther}, 5},
		{"ESC & user chars", []byte{ESC, '&', 3, 'A', 'B', 1, 1, 2, 3, 2, 1, 2, 3, 4, 5, 6, 'z'}, Command{Op: OpOther}, 16},
		{"unknown ESC", []byte{ESC, 0x7F, 9}, Command{Op: OpUnknown}, 2},
		{"raster", []byte{GS, 'v', '0', 1, 1, 0, 2, 0, 0xAA, 0x55, 'z'},
			Command{Op: OpRaster, N: 1, Width: 8, Height: 2, Data: []byte{0xAA, 0x55}}, 10},
		{"raster with m as 0x00 char", []byte{GS, 'v', 0, 0, 1, 0, 1, 0, 0xFF}, Command{Op: OpRaster, Width: 8, Height: 1, Data: []byte{0xFF}}, 9},
		{"QR store", []byte{GS, '(', 'k', 5, 0, 49, 80, 48, 'h', 'i', 'z'}, Command{Op: OpQR, Param: 80, Data: []byte{48, 'h', 'i'}}, 10},
		{"QR print", []byte{GS, '(', 'k', 3, 0, 49, 81, 48}, Command{Op: OpQR, Param: 81, Data: []byte{48}}, 8},
		{"PDF417 is other", []byte{GS, '(', 'k', 3, 0, 48, 65, 0}, Command{Op: OpOther}, 8},
		{"GS ( L graphics", []byte{GS, '(', 'L', 2, 0, 48, 50}, Command{Op: OpOther}, 7},
		{"cut 66", []byte{GS, 'V', 66, 3}, Command{Op: OpCut, N: 66, Param: 3}, 4},
		{"cut 1", []byte{GS, 'V', 1, 'x'}, Command{Op: OpCut, N: 1}, 3},
		{"GS r", []byte{GS, 'r', 1}, Command{Op: OpTransmitStatus, N: 1}, 3},
		{"barcode NUL", []byte{GS, 'k', 4, '1', '2', 0, 'z'}, Command{Op: OpOther}, 6},
		{"barcode counted", []byte{GS, 'k', 73, 2, 'a', 'b', 'z'}, Command{Op: OpOther}, 6},
		{"GS 8 L", []byte{GS, '8', 'L', 2, 0, 0, 0, 48, 50, 'z'}, Command{Op: OpOther}, 9},
		{"DLE EOT", []byte{DLE, EOT, 4}, Command{Op: OpRealtime, N: EOT, Param: 4}, 3},
		{"DLE DC4", []byte{DLE, DC4, 1, 0, 1}, Command{Op: OpRealtime, N: DC4, Param: 1}, 5},
		{"lone DLE", []byte{DLE, 'A'}, Command{Op: OpControl, N: DLE}, 1},
		{"FS ( ", []byte{FS, '(', 'A', 2, 0, 48, 48}, Command{Op: OpOther}, 7},
		{"FS q", []byte{FS, 'q', 1, 1, 0, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 'z'}, Command{Op: OpOther}, 15},
		{"FS .", []byte{FS, '.'}, Command{Op: OpOther}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, n, err := Next(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.n || !bytes.Equal(got.Raw, tt.in[:tt.n]) {
				t.Fatalf("n = %d (want %d), raw % X", n, tt.n, got.Raw)
			}
			got.Raw = nil
			if got.Op != tt.want.Op || got.N != tt.want.N || got.Param != tt.want.Param ||
				got.Width != tt.want.Width || got.Height != tt.want.Height || !bytes.Equal(got.Data, tt.want.Data) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestNextShortAndTooLarge(t *testing.T) {
	t.Parallel()
	complete := [][]byte{
		{ESC, 'a', 1}, {GS, 'v', '0', 0, 1, 0, 2, 0, 1, 2}, {GS, '(', 'k', 3, 0, 49, 81, 48},
		{GS, 'V', 66, 0}, {DLE, EOT, 1}, {ESC, '*', 0, 1, 0, 9}, {FS, 'q', 1, 1, 0, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8},
		{ESC, '&', 3, 'A', 'A', 1, 1, 2, 3}, {GS, 'k', 73, 1, 'x'}, {GS, '8', 'L', 1, 0, 0, 0, 9},
	}
	for _, c := range complete {
		for i := 1; i < len(c); i++ {
			if _, _, err := Next(c[:i]); !errors.Is(err, ErrShort) {
				t.Errorf("% X cut to %d bytes: %v", c, i, err)
			}
		}
		if _, n, err := Next(c); err != nil || n != len(c) {
			t.Errorf("% X: n %d err %v", c, n, err)
		}
	}
	if _, _, err := Next(nil); !errors.Is(err, ErrShort) {
		t.Errorf("empty: %v", err)
	}
	huge := [][]byte{
		{GS, 'v', '0', 0, 0xFF, 0xFF, 0xFF, 0x0F},
		{GS, '8', 'L', 0xFF, 0xFF, 0xFF, 0x7F},
		{FS, 'q', 1, 0xFF, 0xFF, 0xFF, 0xFF},
	}
	for _, h := range huge {
		if _, _, err := Next(h); !errors.Is(err, ErrTooLarge) {
			t.Errorf("% X: %v", h, err)
		}
	}
}

// The encoder's output parses back into the commands it wrote.
func TestNextParsesEncoderOutput(t *testing.T) {
	t.Parallel()
	var e Encoder
	e.BandRows = 2
	e.Init()
	e.Align(Center)
	e.Raster(Raster{Width: 8, Height: 3, Bits: []byte{0x10, 0x04, 0x01}})
	e.QR([]byte("MAHOSO-1"), 5)
	e.Feed(2)
	e.Cut(PartialCutAfterFeed)
	b, err := e.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	var ops []Op
	var qrFns []byte
	for len(b) > 0 {
		c, n, err := Next(b)
		if err != nil {
			t.Fatalf("at % X: %v", b[:min(8, len(b))], err)
		}
		ops = append(ops, c.Op)
		if c.Op == OpQR {
			qrFns = append(qrFns, c.Param)
		}
		b = b[n:]
	}
	want := []Op{OpInit, OpAlign, OpRaster, OpRaster, OpQR, OpQR, OpQR, OpQR, OpQR, OpFeedLines, OpCut}
	if len(ops) != len(want) {
		t.Fatalf("ops %v, want %v", ops, want)
	}
	for i := range ops {
		if ops[i] != want[i] {
			t.Fatalf("ops %v, want %v", ops, want)
		}
	}
	if !bytes.Equal(qrFns, []byte{65, 67, 69, 80, 81}) {
		t.Errorf("QR functions %v", qrFns)
	}
}
