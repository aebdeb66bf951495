package screen

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"golang.org/x/image/font/gofont/goregular"
)

// Two VietQR payloads: the public ACB example from the domain brief (118
// characters) and a dynamic one with a dossier number as purpose (145).
const (
	acbExample = "00020101021238530010A0000007270123000697041601092576788590208QRIBFTTA53037045405100005802VN62150811Chuyen tien630453E6"
	dossierQR  = "00020101021238560010A0000007270126000697041501121133666688880208QRIBFTTA53037045405100005802VN62390835Le phi HS 000.00.12.H29-240517-004263046422"
)

func renderer(t *testing.T) *Renderer {
	t.Helper()
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestFormatVND(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   int64
		want string
	}{
		{0, "0 ₫"},
		{999, "999 ₫"},
		{1000, "1.000 ₫"},
		{10000, "10.000 ₫"},
		{100000, "100.000 ₫"},
		{1250000, "1.250.000 ₫"},
		{-5000, "-5.000 ₫"},
	} {
		if got := FormatVND(tc.in); got != tc.want {
			t.Errorf("FormatVND(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFormatCountdown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{5 * time.Minute, "Còn 05:00"},
		{5*time.Minute - 800*time.Millisecond, "Còn 05:00"}, // rounds up: 00:00 only at expiry
		{4*time.Minute + 59*time.Second, "Còn 04:59"},
		{time.Millisecond, "Còn 00:01"},
		{0, "Còn 00:00"},
		{-3 * time.Second, "Còn 00:00"},
		{75 * time.Minute, "Còn 75:00"},
	} {
		if got := FormatCountdown(tc.in); got != tc.want {
			t.Errorf("FormatCountdown(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func decode(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("does not decode: %v", err)
	}
	return res.GetText()
}

func isPaper(c color.RGBA) bool { return c == color.RGBA{255, 255, 255, 255} }
func isInk(c color.RGBA) bool   { return c == color.RGBA{0, 0, 0, 255} }

func TestPaymentQR(t *testing.T) {
	t.Parallel()
	r := renderer(t)
	for _, tc := range []struct {
		payload   string
		size      image.Point
		minModule int
	}{
		{acbExample, image.Pt(240, 240), 4},
		{dossierQR, image.Pt(240, 240), 4},
		{dossierQR, image.Pt(240, 320), 4},
		{dossierQR, image.Pt(320, 240), 3},
		{dossierQR, image.Pt(135, 240), MinModulePx},
	} {
		t.Run(fmt.Sprintf("%d chars on %v", len(tc.payload), tc.size), func(t *testing.T) {
			t.Parallel()
			img, l, err := r.PaymentQR(tc.size, tc.payload, 10000, 4*time.Minute+59*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if got := decode(t, img); got != tc.payload {
				t.Fatalf("decoded %q", got)
			}
			if l.ModulePx < tc.minModule {
				t.Errorf("%d px per module, want at least %d", l.ModulePx, tc.minModule)
			}
			if !l.QuietZone.In(img.Bounds()) {
				t.Errorf("quiet zone %v leaves the screen %v", l.QuietZone, img.Bounds())
			}
			if l.QR != l.QuietZone.Inset(QuietZoneModules*l.ModulePx) || l.QR.Dx() != l.Modules*l.ModulePx || l.QR.Dy() != l.QR.Dx() {
				t.Errorf("layout %+v is not %d modules of %d px inside a %d-module quiet zone", l, l.Modules, l.ModulePx, QuietZoneModules)
			}
			// The quiet zone is paper throughout, text included.
			for y := l.QuietZone.Min.Y; y < l.QuietZone.Max.Y; y++ {
				for x := l.QuietZone.Min.X; x < l.QuietZone.Max.X; x++ {
					if !image.Pt(x, y).In(l.QR) && !isPaper(img.RGBAAt(x, y)) {
						t.Fatalf("quiet zone pixel %d,%d is %v", x, y, img.RGBAAt(x, y))
					}
				}
			}
			// Whole modules: every pixel of a module is the module's colour, pure
			// ink or pure paper, with no blending at the edges.
			for my := 0; my < l.Modules; my++ {
				for mx := 0; mx < l.Modules; mx++ {
					o := l.QR.Min.Add(image.Pt(mx*l.ModulePx, my*l.ModulePx))
					first := img.RGBAAt(o.X, o.Y)
					if !isInk(first) && !isPaper(first) {
						t.Fatalf("module %d,%d is %v", mx, my, first)
					}
					for y := 0; y < l.ModulePx; y++ {
						for x := 0; x < l.ModulePx; x++ {
							if c := img.RGBAAt(o.X+x, o.Y+y); c != first {
								t.Fatalf("module %d,%d is not uniform: %v and %v", mx, my, first, c)
							}
						}
					}
				}
			}
			for name, band := range map[string]image.Rectangle{"amount": l.Amount, "countdown": l.Countdown} {
				if band.Overlaps(l.QuietZone) {
					t.Errorf("%s band %v overlaps the quiet zone %v", name, band, l.QuietZone)
				}
				if !hasInk(img, band) {
					t.Errorf("%s band %v is blank", name, band)
				}
			}
		})
	}
}

func hasInk(img *image.RGBA, r image.Rectangle) bool {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if !isPaper(img.RGBAAt(x, y)) {
				return true
			}
		}
	}
	return false
}

func TestPaymentQRTooDense(t *testing.T) {
	t.Parallel()
	_, _, err := renderer(t).PaymentQR(image.Pt(240, 240), strings.Repeat("x", 700), 10000, time.Minute)
	if !errors.Is(err, ErrQRDoesNotFit) {
		t.Fatalf("err = %v, want ErrQRDoesNotFit", err)
	}
}

func TestMessageStaysOnScreen(t *testing.T) {
	t.Parallel()
	r := renderer(t)
	for _, tc := range []struct {
		size  image.Point
		style Style
		lines []string
	}{
		{image.Pt(240, 240), Light, []string{"Xin kính chào", "Mã QR thanh toán sẽ hiện tại đây"}},
		{image.Pt(240, 240), Light, []string{"Mã thanh toán đã hết hạn", "Vui lòng làm lại trên màn hình cảm ứng"}},
		{image.Pt(128, 64), Dark, []string{"1.250.000 ₫", "Còn 04:59"}},
		{image.Pt(128, 64), Dark, []string{"Xin kính chào"}},
	} {
		t.Run(strings.Join(tc.lines, "/"), func(t *testing.T) {
			t.Parallel()
			img := r.Message(tc.size, tc.style, tc.lines...)
			paper := color.RGBAModel.Convert(tc.style.Paper).(color.RGBA)
			ink := image.Rectangle{}
			for y := 0; y < tc.size.Y; y++ {
				for x := 0; x < tc.size.X; x++ {
					if img.RGBAAt(x, y) != paper {
						ink = ink.Union(image.Rect(x, y, x+1, y+1))
					}
				}
			}
			if ink.Empty() {
				t.Fatal("nothing drawn")
			}
			// Text touching an edge has probably been cut off.
			if !ink.In(img.Bounds().Inset(1)) {
				t.Errorf("text spans %v on a %v screen", ink, tc.size)
			}
		})
	}
}

// Vietnamese must render as Vietnamese: read the screens back with Tesseract's
// Vietnamese model. OCR is not exact ("₫" comes back as "đ"), so allow a small
// edit distance, far below what dropped diacritics would cost.
func TestVietnameseReadsBack(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("tesseract"); err != nil {
		t.Skip("tesseract not installed (make deps installs tesseract-ocr-vie)")
	}
	r := renderer(t)
	pay, l, err := r.PaymentQR(image.Pt(240, 320), dossierQR, 1250000, 4*time.Minute+59*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		img  image.Image
		want string
	}{
		{"idle", r.Message(image.Pt(240, 240), Light, "Xin kính chào", "Mã QR thanh toán sẽ hiện tại đây"), "Xin kính chào Mã QR thanh toán sẽ hiện tại đây"},
		{"expired", r.Message(image.Pt(240, 240), Light, "Mã thanh toán đã hết hạn", "Vui lòng làm lại trên màn hình cảm ứng"), "Mã thanh toán đã hết hạn Vui lòng làm lại trên màn hình cảm ứng"},
		{"amount", pay.SubImage(l.Amount), "1.250.000 đ"},
		{"countdown", pay.SubImage(l.Countdown), "Còn 04:59"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := ocr(t, tc.img)
			if d := editDistance(got, tc.want); d > 2 {
				t.Errorf("read back %q, want %q (distance %d)", got, tc.want, d)
			}
		})
	}
}

func ocr(t *testing.T, img image.Image) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "screen.png")
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("tesseract", f, "-", "-l", "vie", "--psm", "6").Output()
	if err != nil {
		t.Fatalf("tesseract: %v", err)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur := make([]int, len(rb)+1)
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(rb)]
}

func TestNewRendererRejectsFontsWithoutVietnamese(t *testing.T) {
	t.Parallel()
	goFont := filepath.Join(t.TempDir(), "Go-Regular.ttf")
	if err := os.WriteFile(goFont, goregular.TTF, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file, want string
	}{
		{goFont, "lacks Vietnamese letters"},
		{filepath.Join(t.TempDir(), "missing.ttf"), "fonts-dejavu-core"},
	} {
		_, err := NewRenderer(tc.file)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewRenderer(%s) = %v, want an error containing %q", filepath.Base(tc.file), err, tc.want)
		}
	}
	if m := renderer(t).Missing(vietnameseProbe); m != "" {
		t.Errorf("DejaVu Sans lacks %q", m)
	}
}
