package raster

import (
	"bytes"
	"image"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	"golang.org/x/text/unicode/norm"

	"github.com/vnkiosk/kiosk/devices/printer/escpos"
)

func mustFonts(t testing.TB) *Fonts {
	t.Helper()
	f, err := DejaVu()
	if err != nil {
		t.Fatalf("%v (the tests need the Debian package fonts-dejavu-core)", err)
	}
	return f
}

func TestBitmapSetBlackDraw(t *testing.T) {
	t.Parallel()
	b := NewBitmap(13, 2) // rounds to 16
	if b.Width != 16 || b.Stride != 2 || len(b.Bits) != 4 {
		t.Fatalf("%+v", b)
	}
	b.Set(0, 0)
	b.Set(9, 1)
	b.Set(-1, 0)
	b.Set(16, 0)
	b.Set(0, 2)
	if !bytes.Equal(b.Bits, []byte{0x80, 0, 0, 0x40}) {
		t.Fatalf("bits % X", b.Bits)
	}
	if !b.Black(9, 1) || b.Black(8, 1) || b.Black(-1, -1) || b.Black(100, 0) {
		t.Error("Black disagrees with Set")
	}
	src := NewBitmap(8, 1)
	src.Bits[0] = 0xC1
	dst := NewBitmap(24, 2)
	dst.Draw(src, 3, 1) // unaligned
	for _, x := range []int{3, 4, 10} {
		if !dst.Black(x, 1) {
			t.Errorf("dot %d not drawn", x)
		}
	}
	dst.Draw(src, 16, 0) // aligned, partly outside
	dst.Draw(src, 20, 0)
	if dst.Bits[2] != 0xC1|0x0C { // 16: whole byte; 20: dots 20, 21 (27 is clipped)
		t.Errorf("aligned draw % X", dst.Bits)
	}
	if !dst.BlankRows(0, 0) || dst.BlankRows(0, 1) {
		t.Error("BlankRows")
	}
	dst.Grow(3)
	if dst.Height != 5 || !dst.BlankRows(2, 5) {
		t.Errorf("Grow: %+v", dst)
	}
	img := dst.Image()
	if img.ColorIndexAt(3, 1) != 1 || img.ColorIndexAt(5, 1) != 0 {
		t.Error("Image palette indices")
	}
}

// vietnameseLetters is every letter of the Vietnamese alphabet with every tone
// mark, lower and upper case.
func vietnameseLetters() []rune {
	base := "aăâeêioôơuưy"
	tones := []rune{0, 0x0300, 0x0301, 0x0309, 0x0303, 0x0323} // none, huyền, sắc, hỏi, ngã, nặng
	var rs []rune
	for _, b := range base {
		for _, tone := range tones {
			s := string(b)
			if tone != 0 {
				s += string(tone)
			}
			s = norm.NFC.String(s)
			r, _ := utf8.DecodeRuneInString(s)
			if utf8.RuneCountInString(s) != 1 {
				panic("no precomposed form for " + s)
			}
			rs = append(rs, r, []rune(strings.ToUpper(s))[0])
		}
	}
	return append(rs, 'đ', 'Đ', '₫')
}

func TestDejaVuCoversVietnamese(t *testing.T) {
	t.Parallel()
	f := mustFonts(t)
	letters := vietnameseLetters()
	if len(letters) != 12*6*2+3 {
		t.Fatalf("%d letters", len(letters))
	}
	for _, r := range letters {
		if !f.Covers(r) {
			t.Errorf("DejaVu Sans lacks %q (U+%04X)", r, r)
		}
	}
}

// A decomposed string (as some keyboards and web forms send it) must print
// exactly like the precomposed one.
func TestTextNormalisesToNFC(t *testing.T) {
	t.Parallel()
	f := mustFonts(t)
	nfc := "Nguyễn Thị Phượng, Quầy số 3"
	nfd := norm.NFD.String(nfc)
	if nfd == nfc {
		t.Fatal("NFD did not decompose")
	}
	a, err := f.Text(nfc, Style{Px: 24}, Width80, 8)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.Text(nfd, Style{Px: 24}, Width80, 8)
	if err != nil {
		t.Fatal(err)
	}
	if a.Height == 0 || !bytes.Equal(a.Bits, b.Bits) {
		t.Error("NFD text renders differently from NFC")
	}
}

// inkBox is the bounding box of the black dots.
func inkBox(b *Bitmap) image.Rectangle {
	r := image.Rectangle{Min: image.Pt(b.Width, b.Height)}
	for y := 0; y < b.Height; y++ {
		for x := 0; x < b.Width; x++ {
			if b.Black(x, y) {
				r = r.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return r
}

func TestTextLayout(t *testing.T) {
	t.Parallel()
	f := mustFonts(t)
	long := "Thủ tục đăng ký khai sinh, đăng ký thường trú và xác nhận tình trạng hôn nhân tại Ủy ban nhân dân phường"
	tests := []struct {
		name     string
		text     string
		st       Style
		width    int
		lines    int // expected number of lines; 0 means more than one
		checkInk func(t *testing.T, ink image.Rectangle, width int)
	}{
		{"left", "Quầy 3", Style{Px: 24}, Width80, 1, func(t *testing.T, ink image.Rectangle, w int) {
			if ink.Min.X < 8 || ink.Min.X > 12 {
				t.Errorf("left text starts at %d", ink.Min.X)
			}
		}},
		{"right", "Quầy 3", Style{Px: 24, Align: escpos.Right}, Width80, 1, func(t *testing.T, ink image.Rectangle, w int) {
			if ink.Max.X > w-8 || ink.Max.X < w-14 {
				t.Errorf("right text ends at %d", ink.Max.X)
			}
		}},
		{"center", "Quầy 3", Style{Px: 24, Align: escpos.Center}, Width80, 1, func(t *testing.T, ink image.Rectangle, w int) {
			if d := (ink.Min.X + ink.Max.X) - w; d < -4 || d > 4 {
				t.Errorf("centred text spans %d..%d", ink.Min.X, ink.Max.X)
			}
		}},
		{"wraps on 80 mm within margins", long, Style{Px: 24}, Width80, 0, nil},
		{"wraps more on 58 mm", long, Style{Px: 24, Bold: true}, Width58, 0, nil},
		{"newline", "Dòng một\nDòng hai\n\nDòng bốn", Style{Px: 24}, Width58, 4, nil},
		{"huge fits one line on 58 mm", "B1234", Style{Px: 120, Bold: true, Fit: true, Align: escpos.Center}, Width58, 1, nil},
		{"word longer than a line is broken", strings.Repeat("Ư", 40), Style{Px: 24}, Width58, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := f.Text(tt.text, tt.st, tt.width, 8)
			if err != nil {
				t.Fatal(err)
			}
			ink := inkBox(b)
			if ink.Empty() {
				t.Fatal("nothing drawn")
			}
			if ink.Min.X < 8 || ink.Max.X > tt.width-8 {
				t.Errorf("ink %v crosses the 8-dot margins of %d", ink, tt.width)
			}
			if ink.Min.Y == 0 || ink.Max.Y == b.Height {
				t.Errorf("ink %v touches the top or bottom of %d rows: marks are clipped", ink, b.Height)
			}
			one, _ := f.Text("Ẫ", Style{Px: tt.st.Px, Bold: tt.st.Bold}, tt.width, 8)
			lines := b.Height / one.Height
			if tt.st.Fit {
				lines = 1
				if b.Height > one.Height {
					lines = 2
				}
			}
			switch {
			case tt.lines == 0 && lines < 2:
				t.Errorf("%d line(s), want several", lines)
			case tt.lines > 0 && lines != tt.lines:
				t.Errorf("%d line(s), want %d", lines, tt.lines)
			}
			if tt.checkInk != nil {
				tt.checkInk(t, ink, tt.width)
			}
		})
	}
}

// Capitals with two stacked marks are taller than the font's ascent; the line
// box must include them.
func TestStackedDiacriticsFitTheLine(t *testing.T) {
	t.Parallel()
	f := mustFonts(t)
	for _, px := range []int{20, 24, 34, 120} {
		b, err := f.Text("ẪẶỖỮỸ ỵ", Style{Px: px, Bold: true}, Width80, 8)
		if err != nil {
			t.Fatal(err)
		}
		ink := inkBox(b)
		if ink.Min.Y <= 0 || ink.Max.Y >= b.Height {
			t.Errorf("%d dots: ink rows %d..%d in a %d-row line", px, ink.Min.Y, ink.Max.Y, b.Height)
		}
	}
}

func TestTextHostileInput(t *testing.T) {
	t.Parallel()
	f := mustFonts(t)
	inputs := []string{
		"", "   ", "\n\n", "\x00\x01\x1b@\x7f", "a\xff\xfeb", "日本語 😀 ☃", "\u0301\u0323",
		strings.Repeat("W", 5000), strings.Repeat("ệ ", 2000),
	}
	for _, in := range inputs {
		b, err := f.Text(in, Style{Px: 24}, Width58, 8)
		if err != nil {
			t.Errorf("%q: %v", in[:min(len(in), 20)], err)
			continue
		}
		if ink := inkBox(b); !ink.Empty() && (ink.Min.X < 8 || ink.Max.X > Width58-8) {
			t.Errorf("%q: ink %v outside margins", in[:min(len(in), 20)], ink)
		}
	}
	// Characters the font lacks become "?", not an empty box.
	q, _ := f.Text("?", Style{Px: 24}, Width58, 8)
	cjk, _ := f.Text("日", Style{Px: 24}, Width58, 8)
	if !bytes.Equal(q.Bits, cjk.Bits) {
		t.Error("a character the font lacks is not printed as ?")
	}
	bad := []struct {
		st            Style
		width, margin int
	}{
		{Style{Px: 24}, 100, 8}, {Style{Px: 24}, 0, 0}, {Style{Px: 24}, Width58, 192},
		{Style{Px: 4}, Width58, 8}, {Style{Px: 1000}, Width58, 8}, {Style{Px: 24, Align: 9}, Width58, 8},
	}
	for _, b := range bad {
		if _, err := f.Text("x", b.st, b.width, b.margin); err == nil {
			t.Errorf("%+v width %d margin %d accepted", b.st, b.width, b.margin)
		}
	}
}

func TestLoadFontsErrors(t *testing.T) {
	t.Parallel()
	if _, err := LoadFonts("/nonexistent/DejaVuSans.ttf", DejaVuBold); err == nil || !strings.Contains(err.Error(), "fonts-dejavu-core") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := ParseFonts([]byte("not a font"), []byte("x")); err == nil {
		t.Error("garbage parsed as a font")
	}
}

func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("QR does not decode: %v", err)
	}
	return res.GetText()
}

func TestQRDecodes(t *testing.T) {
	t.Parallel()
	for _, payload := range []string{"000.00.12.H49-260115-0001", "https://dichvucong.gov.vn/p/home/dvc-tra-cuu-ho-so.html?ma=ABC", "Nguyễn Văn Ấn"} {
		for _, module := range []int{2, 4, 8} {
			sym, err := QR(payload, module)
			if err != nil {
				t.Fatal(err)
			}
			// The quiet zone is the caller's: add it as the layout does.
			q := 4 * module
			page := NewBitmap(sym.Width+2*q, sym.Height+2*q)
			page.Draw(sym, q, q)
			if got := decodeQR(t, page.Image()); got != payload {
				t.Errorf("module %d: decoded %q, want %q", module, got, payload)
			}
		}
	}
	if _, err := QR("", 4); err == nil {
		t.Error("empty payload accepted")
	}
	if _, err := QR("x", 0); err == nil {
		t.Error("module 0 accepted")
	}
	if _, err := QR(strings.Repeat("x", 5000), 2); err == nil {
		t.Error("payload beyond version 40 accepted")
	}
}
