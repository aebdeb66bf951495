package st7789test_test

import (
	"image"
	"image/color"
	"testing"

	"github.com/vnkiosk/kiosk/devices/display/st7789"
	"github.com/vnkiosk/kiosk/devices/display/st7789/st7789test"
)

// The model shows what the driver drew, where it drew it, offsets included.
func TestModelShowsWhatWasDrawn(t *testing.T) {
	t.Parallel()
	p := st7789test.New("DC")
	opts := st7789.Opts{W: 240, H: 240, RowOffset: 80, Rotation: st7789.Rotate180}
	d, err := st7789.New(p, p.DC, nil, &opts)
	if err != nil {
		t.Fatal(err)
	}
	p.Windows()
	src := image.NewRGBA(image.Rect(0, 0, 37, 11)) // odd sizes split pixels across 4096-byte chunks
	for i := range src.Pix {
		src.Pix[i] = byte(i*31 + 7)
		if i%4 == 3 {
			src.Pix[i] = 0xFF
		}
	}
	at := image.Rect(5, 9, 42, 20)
	if err := d.Draw(at, src, image.Point{}); err != nil {
		t.Fatal(err)
	}
	if w := p.Windows(); len(w) != 1 || w[0] != at.Add(image.Pt(0, 80)) {
		t.Fatalf("windows %v, want [%v]", w, at.Add(image.Pt(0, 80)))
	}
	got := p.Image(at.Add(image.Pt(0, 80)))
	for y := 0; y < 11; y++ {
		for x := 0; x < 37; x++ {
			want := color.RGBAModel.Convert(st7789.RGB565Model.Convert(src.At(x, y))).(color.RGBA)
			if g := got.RGBAAt(x, y); g != want {
				t.Fatalf("pixel %d,%d shows %v, want %v", x, y, g, want)
			}
		}
	}
}
