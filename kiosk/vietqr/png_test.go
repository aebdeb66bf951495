package vietqr

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	gzqr "github.com/makiuchi-d/gozxing/qrcode"
)

// pngPayloads: the ACB example, a static code, and the longest code Encode can write.
var pngPayloads = func() []string {
	longest, err := Encode(Payment{BIN: "970436", Account: strings.Repeat("9", 19), Service: ServiceToCard, Amount: MaxAmount,
		BillNumber: strings.Repeat("B", 25), Purpose: strings.Repeat("p", 25)})
	if err != nil {
		panic(err)
	}
	return []string{published[0].payload, published[1].payload, longest}
}()

func TestPNGDecodesWithZbarimg(t *testing.T) {
	t.Parallel()
	zbarimg, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Fatalf("zbarimg is not installed, so the QR image cannot be checked against an independent reader: apt-get install zbar-tools (%v)", err)
	}
	for i, s := range pngPayloads {
		t.Run(s, func(t *testing.T) {
			t.Parallel()
			b, err := PNG(s, 400)
			if err != nil {
				t.Fatal(err)
			}
			f := filepath.Join(t.TempDir(), "qr.png")
			if err := os.WriteFile(f, b, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(zbarimg, "--raw", "-q", f).Output()
			if err != nil {
				t.Fatalf("zbarimg %s (payload %d): %v", f, i, err)
			}
			if got := strings.TrimSuffix(string(out), "\n"); got != s {
				t.Errorf("zbarimg read %q\nwant        %q", got, s)
			}
		})
	}
}

func TestPNGDecodesWithGozxing(t *testing.T) {
	t.Parallel()
	for _, s := range pngPayloads {
		for _, size := range []int{200, 333, 1000} {
			b, err := PNG(s, size)
			if err != nil {
				t.Fatalf("PNG(%d): %v", size, err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if r := img.Bounds(); r.Dx() != size || r.Dy() != size {
				t.Errorf("image is %v, want %dx%d", r, size, size)
			}
			bmp, err := gozxing.NewBinaryBitmapFromImage(img)
			if err != nil {
				t.Fatal(err)
			}
			res, err := gzqr.NewQRCodeReader().Decode(bmp, nil)
			if err != nil {
				t.Fatalf("gozxing cannot read the %d px image of %s: %v", size, s, err)
			}
			if res.GetText() != s {
				t.Errorf("gozxing read %q\nwant         %q", res.GetText(), s)
			}
			if ec := res.GetResultMetadata()[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL]; ec != "M" {
				t.Errorf("error correction level %v, want M", ec)
			}
			checkQuietZone(t, img)
		}
	}
}

// checkQuietZone measures the finder pattern in the top-left corner (7 modules
// wide) and checks at least 4 modules of white lie before it on both axes.
func checkQuietZone(t *testing.T, img image.Image) {
	t.Helper()
	dark := func(x, y int) bool { r, _, _, _ := img.At(x, y).RGBA(); return r < 0x8000 }
	size := img.Bounds().Dx()
	x0, y0 := -1, -1
	for y := 0; y < size && y0 < 0; y++ {
		for x := 0; x < size; x++ {
			if dark(x, y) {
				x0, y0 = x, y
				break
			}
		}
	}
	if x0 < 0 {
		t.Fatal("image is blank")
	}
	run := 0
	for x := x0; x < size && dark(x, y0); x++ {
		run++
	}
	if run%7 != 0 {
		t.Fatalf("finder pattern top edge is %d px, not a whole number of 7 equal modules", run)
	}
	module := run / 7
	for x := 0; x < x0; x++ {
		for y := 0; y < size; y++ {
			if dark(x, y) {
				t.Fatalf("dark pixel at (%d,%d), left of the symbol", x, y)
			}
		}
	}
	if x0 != y0 || x0 < 4*module {
		t.Errorf("symbol starts at (%d,%d) with %d px modules: quiet zone under 4 modules", x0, y0, module)
	}
	// The right edge: the top-right finder pattern ends a quiet zone before the border.
	xr := size - 1
	for xr >= 0 && !dark(xr, y0) {
		xr--
	}
	if size-1-xr < 4*module {
		t.Errorf("right margin %d px, under 4 modules of %d px", size-1-xr, module)
	}
}

func TestPNGErrors(t *testing.T) {
	t.Parallel()
	acb := published[0].payload
	for _, tc := range []struct {
		name, s string
		size    int
		want    string
	}{
		{"invalid payload", acb[:len(acb)-1] + "7", 400, "refusing to render an invalid payload: vietqr: checksum mismatch"},
		{"smaller than the symbol", acb, 20, "PNG size 20 px: want"},
		{"zero", acb, 0, "PNG size 0 px"},
		{"negative", acb, -5, "PNG size -5 px"},
		{"huge", acb, MaxPNGSize + 1, "PNG size 8193 px"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := PNG(tc.s, tc.size)
			if err == nil {
				t.Fatalf("PNG returned %d bytes, want an error", len(b))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\nlacks %q", err, tc.want)
			}
		})
	}
}
