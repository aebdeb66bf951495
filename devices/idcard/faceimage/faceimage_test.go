package faceimage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	quadrantRGB  = [4][3]int{{220, 30, 30}, {30, 200, 60}, {40, 60, 210}, {200, 200, 200}}
	quadrantGrey = [4]int{40, 100, 160, 220}
)

// quadrantMean averages the centre 8×8 pixels of each quadrant.
func quadrantMean(m image.Image, q int) [3]int {
	b := m.Bounds()
	cx := b.Min.X + b.Dx()/4 + (q%2)*b.Dx()/2
	cy := b.Min.Y + b.Dy()/4 + (q/2)*b.Dy()/2
	var sum [3]int
	for y := cy - 4; y < cy+4; y++ {
		for x := cx - 4; x < cx+4; x++ {
			r, g, bl, _ := m.At(x, y).RGBA()
			sum[0] += int(r >> 8)
			sum[1] += int(g >> 8)
			sum[2] += int(bl >> 8)
		}
	}
	for i := range sum {
		sum[i] /= 64
	}
	return sum
}

func near(a, b, tol int) bool { return a-b <= tol && b-a <= tol }

func TestToJPEG(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		grey bool
		tol  int // per channel, after JPEG re-encoding (and JPEG 2000 loss)
	}{
		{"face.jp2", false, 8},
		{"face.j2k", false, 8},
		{"face-lossy.jp2", false, 16},
		{"face-grey.j2k", true, 6},
		{"face-420.j2k", false, 10},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			out, err := ToJPEG(readTestdata(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			m, err := jpeg.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("output is not a JPEG: %v", err)
			}
			if b := m.Bounds(); b.Dx() != 64 || b.Dy() != 80 {
				t.Fatalf("decoded %dx%d, want 64x80", b.Dx(), b.Dy())
			}
			if _, isGrey := m.(*image.Gray); isGrey != tt.grey {
				t.Errorf("output model %T, grey %v", m, tt.grey)
			}
			for q := range 4 {
				got := quadrantMean(m, q)
				want := quadrantRGB[q]
				if tt.grey {
					want = [3]int{quadrantGrey[q], quadrantGrey[q], quadrantGrey[q]}
				}
				for c := range 3 {
					if !near(got[c], want[c], tt.tol) {
						t.Errorf("quadrant %d = %v, want %v ±%d", q, got, want, tt.tol)
						break
					}
				}
			}
		})
	}
}

func testJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h)), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestJPEGPassesThrough(t *testing.T) {
	t.Parallel()
	in := testJPEG(t, 40, 50)
	out, err := ToJPEG(in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(in, out) {
		t.Error("JPEG was modified")
	}
}

// setJ2KSize rewrites Xsiz and Ysiz of the SIZ marker segment, which follows SOC:
// FF4F FF51 Lsiz(2) Rsiz(2) Xsiz(4) Ysiz(4) XOsiz(4) YOsiz(4).
func setJ2KSize(t *testing.T, b []byte, w, h uint32) []byte {
	t.Helper()
	b = bytes.Clone(b)
	i := bytes.Index(b, []byte{0xFF, 0x4F, 0xFF, 0x51})
	if i < 0 {
		t.Fatal("no SIZ marker")
	}
	binary.BigEndian.PutUint32(b[i+8:], w)
	binary.BigEndian.PutUint32(b[i+12:], h)
	return b
}

// setJPEGSize rewrites the dimensions in the SOF0 segment: FFC0 Lf(2) P(1) Y(2) X(2).
func setJPEGSize(t *testing.T, b []byte, w, h uint16) []byte {
	t.Helper()
	b = bytes.Clone(b)
	i := bytes.Index(b, []byte{0xFF, 0xC0})
	if i < 0 {
		t.Fatal("no SOF0 marker")
	}
	binary.BigEndian.PutUint16(b[i+5:], h)
	binary.BigEndian.PutUint16(b[i+7:], w)
	return b
}

func TestToJPEGRejects(t *testing.T) {
	t.Parallel()
	j2k := readTestdata(t, "face.j2k")
	jp2 := readTestdata(t, "face.jp2")
	tests := []struct {
		name string
		in   []byte
		is   error // nil: any error
	}{
		{"empty", nil, ErrUnsupported},
		{"PNG", readTestdata(t, "face.png"), ErrUnsupported},
		{"garbage", []byte("not an image at all"), ErrUnsupported},
		{"J2K magic then garbage", append([]byte{0xFF, 0x4F, 0xFF, 0x51}, bytes.Repeat([]byte{0xA5}, 64)...), nil},
		{"JP2 signature only", jp2[:12], nil},
		{"truncated J2K", j2k[:len(j2k)/3], nil},
		{"truncated JP2", jp2[:len(jp2)/2], nil},
		{"J2K 5000 wide", setJ2KSize(t, j2k, 5000, 80), ErrTooLarge},
		{"J2K 4097 high", setJ2KSize(t, j2k, 64, 4097), ErrTooLarge},
		{"JPEG 5000 wide", setJPEGSize(t, testJPEG(t, 8, 8), 5000, 8), ErrTooLarge},
		{"JPEG header broken", []byte{0xFF, 0xD8, 0xFF, 0xC0, 0x00}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := ToJPEG(tt.in)
			if err == nil {
				t.Fatalf("ToJPEG succeeded with %d bytes", len(out))
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v, want %v", err, tt.is)
			}
		})
	}
}

func TestCompose(t *testing.T) {
	t.Parallel()
	full := func(v int32, w, h int) []int32 {
		s := make([]int32, w*h)
		for i := range s {
			s[i] = v
		}
		return s
	}
	y, cb, cr := color.RGBToYCbCr(200, 40, 90)
	tests := []struct {
		name   string
		planes []plane
		ox, oy int
		cs     int
		want   color.Color
	}{
		{"YCbCr 4:2:0 without colour space", []plane{
			{samples: full(int32(y), 5, 3), w: 5, h: 3, dx: 1, dy: 1, prec: 8},
			{samples: full(int32(cb), 3, 2), w: 3, h: 2, dx: 2, dy: 2, prec: 8},
			{samples: full(int32(cr), 3, 2), w: 3, h: 2, dx: 2, dy: 2, prec: 8},
		}, 0, 0, colourUnspecified, color.RGBA{200, 40, 90, 255}},
		{"sYCC declared", []plane{
			{samples: full(int32(y), 5, 3), w: 5, h: 3, dx: 1, dy: 1, prec: 8},
			{samples: full(int32(cb), 5, 3), w: 5, h: 3, dx: 1, dy: 1, prec: 8},
			{samples: full(int32(cr), 5, 3), w: 5, h: 3, dx: 1, dy: 1, prec: 8},
		}, 0, 0, colourSYCC, color.RGBA{200, 40, 90, 255}},
		{"12-bit RGB", []plane{
			{samples: full(4095, 5, 3), w: 5, h: 3, dx: 1, dy: 1, prec: 12},
			{samples: full(0, 5, 3), w: 5, h: 3, dx: 1, dy: 1, prec: 12},
			{samples: full(2048, 5, 3), w: 5, h: 3, dx: 1, dy: 1, prec: 12},
		}, 0, 0, colourSRGB, color.RGBA{255, 0, 128, 255}},
		{"signed grey", []plane{{samples: full(-128, 5, 3), w: 5, h: 3, dx: 1, dy: 1, prec: 8, signed: true}},
			0, 0, colourGrey, color.Gray{0}},
		{"grey with alpha, offset origin", []plane{
			{samples: full(77, 3, 2), w: 3, h: 2, x0: 1, y0: 1, dx: 2, dy: 2, prec: 8},
			{samples: full(255, 3, 2), w: 3, h: 2, x0: 1, y0: 1, dx: 2, dy: 2, prec: 8},
		}, 1, 1, colourUnspecified, color.Gray{77}},
	}
	for _, tt := range tests {
		m, err := compose(tt.planes, tt.ox, tt.oy, 5, 3, tt.cs)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		for _, pt := range []image.Point{{0, 0}, {4, 2}, {2, 1}} {
			got := m.At(pt.X, pt.Y)
			r1, g1, b1, _ := got.RGBA()
			r2, g2, b2, _ := tt.want.RGBA()
			if !near(int(r1>>8), int(r2>>8), 2) || !near(int(g1>>8), int(g2>>8), 2) || !near(int(b1>>8), int(b2>>8), 2) {
				t.Errorf("%s: pixel %v = %v, want %v", tt.name, pt, got, tt.want)
			}
		}
	}
	bad := map[string][]plane{
		"short samples": {{samples: make([]int32, 3), w: 5, h: 3, dx: 1, dy: 1, prec: 8}},
		"zero dx":       {{samples: make([]int32, 15), w: 5, h: 3, dx: 0, dy: 1, prec: 8}},
		"32-bit":        {{samples: make([]int32, 15), w: 5, h: 3, dx: 1, dy: 1, prec: 32}},
		"no planes":     {},
	}
	for name, planes := range bad {
		if _, err := compose(planes, 0, 0, 5, 3, colourUnspecified); err == nil {
			t.Errorf("%s: compose succeeded", name)
		}
	}
	if _, err := compose([]plane{{samples: make([]int32, 15), w: 5, h: 3, dx: 1, dy: 1, prec: 8}}, 0, 0, 5, 3, colourCMYK); err == nil {
		t.Error("compose accepted CMYK")
	}
}

func FuzzToJPEG(f *testing.F) {
	for _, name := range []string{"face.jp2", "face.j2k", "face-grey.j2k", "face-lossy.jp2", "face-420.j2k"} {
		f.Add(readTestdata(f, name))
	}
	f.Add(testJPEG(f, 4, 4))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := ToJPEG(b)
		if err != nil {
			return
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("ToJPEG returned a non-JPEG: %v", err)
		}
		if cfg.Width > MaxDimension || cfg.Height > MaxDimension {
			t.Fatalf("ToJPEG returned %dx%d", cfg.Width, cfg.Height)
		}
	})
}
