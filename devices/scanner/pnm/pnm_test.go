package pnm

import (
	"bufio"
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	gray := func(w, h int, pix ...byte) *image.Gray {
		return &image.Gray{Pix: pix, Stride: w, Rect: image.Rect(0, 0, w, h)}
	}
	rgba := func(w, h int, pix ...byte) *image.RGBA {
		return &image.RGBA{Pix: pix, Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
	}
	tests := []struct {
		name string
		in   string
		want image.Image
		size int // header size
	}{
		{"P5 8-bit", "P5\n3 1\n255\n\x00\x80\xff", gray(3, 1, 0x00, 0x80, 0xff), 11},
		{"P5 as scanimage writes it", "P5\n# SANE data follows\n2 2\n255\n\x01\x02\x03\x04", gray(2, 2, 1, 2, 3, 4), 31},
		{"P5 comments and odd spacing", "P5 #c1\n #c2\r\n\t2  1 # c3\n255 \x10\x20", gray(2, 1, 0x10, 0x20), 28},
		{"P5 maxval 15 scales to 255", "P5 2 1 15\n\x0f\x07", gray(2, 1, 0xff, 0x77), 10},
		{"P5 16-bit takes the high byte", "P5 2 1 65535\n\xff\xff\x80\x00", gray(2, 1, 0xff, 0x80), 13},
		{"P5 sample above maxval saturates", "P5 1 1 100\n\xc8", gray(1, 1, 0xff), 11},
		{"P6 8-bit", "P6 2 1 255\n\x01\x02\x03\x04\x05\x06", rgba(2, 1, 1, 2, 3, 0xff, 4, 5, 6, 0xff), 11},
		{"P6 16-bit", "P6 1 1 65535\n\xff\xff\x00\x00\x80\x00", rgba(1, 1, 0xff, 0, 0x80, 0xff), 13},
		{"P4 bits, rows padded to a byte", "P4 10 2\n\x80\x40\x00\xc0", gray(10, 2,
			0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0,
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0), 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, h, err := Decode(strings.NewReader(tc.in), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if h.Size != tc.size {
				t.Errorf("header size %d, want %d", h.Size, tc.size)
			}
			if int64(h.Size)+h.RasterBytes() != int64(len(tc.in)) {
				t.Errorf("header %d + raster %d != input %d", h.Size, h.RasterBytes(), len(tc.in))
			}
			if !sameImage(m, tc.want) {
				t.Errorf("got %#v\nwant %#v", m, tc.want)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     string
		format bool // want ErrFormat
		want   string
	}{
		{"empty", "", true, "unexpected EOF"},
		{"PNG", "\x89PNG\r\n\x1a\n", true, "magic"},
		{"ASCII greymap", "P2 1 1 255\n0", true, "magic"},
		{"zero width", "P5 0 1 255\n", true, "size 0x1"},
		{"width too large", "P5 99999999 1 255\n", true, "number larger"},
		{"maxval zero", "P5 1 1 0\n\x00", true, "maxval 0"},
		{"maxval too large", "P5 1 1 65536\n\x00", true, "maxval 65536"},
		{"letters for a number", "P5 a 1 255\n", true, "expected a number"},
		{"no whitespace before the raster", "P5 1 1 255", true, "unexpected EOF"},
		{"endless comment", "P5 #" + strings.Repeat("x", 5000), true, "header longer"},
		{"truncated raster", "P5 4 4 255\n\x00\x00\x00", false, "truncated at row 0 of 4"},
		{"truncated second row", "P6 1 2 255\n\x00\x00\x00\x00", false, "truncated at row 1 of 2"},
		{"over the pixel limit", "P5 2000 2000 255\n", false, "exceeds the limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := Decode(strings.NewReader(tc.in), 1<<20)
			if err == nil {
				t.Fatal("decoded")
			}
			if errors.Is(err, ErrFormat) != tc.format || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q (ErrFormat %v), want %q (ErrFormat %v)", err, errors.Is(err, ErrFormat), tc.want, tc.format)
			}
		})
	}
}

// TestDecodeScanimage crosses the real boundary: the same test-backend scan as PNM
// (decoded here) and as PNG (written by scanimage's own libpng code) must be
// pixel-for-pixel equal, grey and colour, 8 and 16 bits.
func TestDecodeScanimage(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("scanimage"); err != nil {
		t.Skip("scanimage not installed (Debian package sane-utils)")
	}
	tests := []struct {
		mode, depth string
		colour      bool
	}{
		{"Gray", "8", false},
		{"Color", "8", true},
		{"Gray", "16", false},
		{"Color", "16", true},
	}
	for _, tc := range tests {
		t.Run(tc.mode+tc.depth, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := []string{"-d", "test", "--mode", tc.mode, "--depth", tc.depth, "--test-picture", "Color pattern",
				"--resolution", "60", "-x", "50", "-y", "40"}
			scan := func(format string) []byte {
				out := filepath.Join(dir, "page."+format)
				cmd := exec.Command("scanimage", append(args, "--format="+format, "-o", out)...)
				if b, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("scanimage: %v: %s", err, b)
				}
				b, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			got, h, err := Decode(bytes.NewReader(scan("pnm")), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := png.Decode(bytes.NewReader(scan("png")))
			if err != nil {
				t.Fatal(err)
			}
			if h.Channels() == 3 != tc.colour {
				t.Errorf("header %+v for mode %s", h, tc.mode)
			}
			if got.Bounds() != ref.Bounds() {
				t.Fatalf("bounds %v, PNG %v", got.Bounds(), ref.Bounds())
			}
			for y := range got.Bounds().Dy() {
				for x := range got.Bounds().Dx() {
					a := color.RGBAModel.Convert(got.At(x, y)).(color.RGBA)
					b := color.RGBAModel.Convert(ref.At(x, y)).(color.RGBA)
					if a != b {
						t.Fatalf("pixel (%d,%d) = %v, scanimage's PNG has %v", x, y, a, b)
					}
				}
			}
		})
	}
}

func sameImage(a, b image.Image) bool {
	switch a := a.(type) {
	case *image.Gray:
		b, ok := b.(*image.Gray)
		return ok && a.Rect == b.Rect && bytes.Equal(a.Pix, b.Pix)
	case *image.RGBA:
		b, ok := b.(*image.RGBA)
		return ok && a.Rect == b.Rect && bytes.Equal(a.Pix, b.Pix)
	}
	return false
}

// FuzzDecode feeds arbitrary bytes to the decoder: it must never panic, never
// allocate past the pixel limit, and what it returns must agree with its header.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"P5\n# SANE data follows\n2 2\n255\n\x01\x02\x03\x04",
		"P6 1 1 65535\n\xff\xff\x00\x00\x80\x00",
		"P4 10 2\n\x80\x40\x00\xc0",
		"P5 1 1 15\n\x0f",
		"P5 #" + strings.Repeat("x", 100),
	} {
		f.Add([]byte(s))
	}
	const limit = 1 << 16
	f.Fuzz(func(t *testing.T, in []byte) {
		m, h, err := Decode(bytes.NewReader(in), limit)
		if err != nil {
			return
		}
		if m.Bounds() != image.Rect(0, 0, h.Width, h.Height) || h.Pixels() > limit {
			t.Fatalf("image %v from header %+v", m.Bounds(), h)
		}
		if int64(h.Size)+h.RasterBytes() > int64(len(in)) {
			t.Fatalf("decoded %d bytes of raster from %d bytes of input", h.RasterBytes(), len(in))
		}
		// Re-reading the header alone must give the same header.
		h2, err := ReadHeader(bufio.NewReader(io.LimitReader(bytes.NewReader(in), int64(h.Size))))
		if err != nil || h2 != h {
			t.Fatalf("header reread as %+v (%v), first read %+v", h2, err, h)
		}
	})
}
