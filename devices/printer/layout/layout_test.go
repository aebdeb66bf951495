package layout

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/printer/escpos"
	"github.com/vnkiosk/kiosk/devices/printer/raster"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden (and the font fingerprint) from the current output")

func mustFonts(t testing.TB) *raster.Fonts {
	t.Helper()
	f, err := raster.DejaVu()
	if err != nil {
		t.Fatalf("%v (the tests need the Debian package fonts-dejavu-core)", err)
	}
	return f
}

// at is 08:15 on 15 January 2026 in Vietnam.
var at = time.Date(2026, 1, 15, 1, 15, 0, 0, time.UTC)

// Samples are the templates as the flows fill them; the golden files pin
// their exact bytes.
func samples() map[string]interface{ Page() (Page, error) } {
	yes, no := true, false
	return map[string]interface{ Page() (Page, error) }{
		"queue_ticket": QueueTicket{Site: "BỆNH VIỆN ĐA KHOA TỈNH BÌNH DƯƠNG", Number: "A012", Department: "Khoa Khám bệnh",
			Counter: "Quầy 3", IssuedAt: at, InsuranceChecked: &yes, QR: "https://kiosk.example.vn/q/A012"},
		"queue_ticket_unchecked": QueueTicket{Site: "BỆNH VIỆN ĐA KHOA TỈNH BÌNH DƯƠNG", Number: "B1234", Department: "Khoa Nhi",
			IssuedAt: at, InsuranceChecked: &no},
		"dossier_receipt": DossierReceipt{Site: "UBND PHƯỜNG BẾN NGHÉ", Code: "000.00.12.H29-260115-0007",
			Procedure: "Đăng ký khai sinh", Applicant: "Nguyễn Thị Ánh Tuyết", ReceivedAt: at, Appointment: at.AddDate(0, 0, 3)},
		"fee_receipt": FeeReceipt{Site: "UBND PHƯỜNG BẾN NGHÉ", Description: "Lệ phí cấp bản sao trích lục hộ tịch",
			Amount: 10000, Reference: "FT26015123456789", PaidAt: at},
		"insurance_summary": InsuranceSummary{Site: "BỆNH VIỆN ĐA KHOA TỈNH BÌNH DƯƠNG", CardNumber: "GD4797920001234",
			Holder: "Trần Văn Ượng", ValidFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, VietnamTime), ValidTo: time.Date(2026, 12, 31, 0, 0, 0, 0, VietnamTime),
			FacilityCode: "74001", FacilityName: "Bệnh viện Đa khoa tỉnh Bình Dương", CheckedAt: at},
	}
}

// fontFingerprint identifies the font files the golden bytes were made with:
// a Debian update of fonts-dejavu-core changes glyph outlines and so the
// bytes, which must read as "fonts changed", not as a layout regression.
func fontFingerprint(t *testing.T) string {
	h := sha256.New()
	for _, p := range []string{raster.DejaVuRegular, raster.DejaVuBold} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestTemplatesGolden(t *testing.T) {
	fonts := mustFonts(t)
	fp := fontFingerprint(t)
	fpFile := filepath.Join("testdata", "fonts.sha256")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fpFile, []byte(fp+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if b, err := os.ReadFile(fpFile); err != nil || strings.TrimSpace(string(b)) != fp {
		t.Fatalf("the DejaVu font files differ from those the golden files were made with (%s); "+
			"check the rendered pages by eye (kioskctl sim printer) and rerun with -update", fpFile)
	}
	type variant struct {
		suffix string
		opt    Options
	}
	variants := []variant{
		{"80", Options{Width: raster.Width80, Fonts: fonts}},
		{"58", Options{Width: raster.Width58, Fonts: fonts}},
	}
	for name, s := range samples() {
		vs := variants
		if name == "queue_ticket" {
			vs = append(vs, variant{"80_nativeqr", Options{Width: raster.Width80, Fonts: fonts, NativeQR: true}})
		}
		for _, v := range vs {
			t.Run(name+"_"+v.suffix, func(t *testing.T) {
				page, err := s.Page()
				if err != nil {
					t.Fatal(err)
				}
				got, err := Encode(page, v.opt)
				if err != nil {
					t.Fatal(err)
				}
				file := filepath.Join("testdata", name+"_"+v.suffix+".golden")
				if *update {
					if err := os.WriteFile(file, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(file)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs: %s", file, firstDifference(got, want))
				}
			})
		}
	}
}

// firstDifference names the first command that differs, which says more
// than a byte offset into 50 KiB of raster.
func firstDifference(got, want []byte) string {
	off := 0
	for len(got) > 0 && len(want) > 0 {
		g, gn, gerr := escpos.Next(got)
		w, wn, werr := escpos.Next(want)
		if gerr != nil || werr != nil || !bytes.Equal(g.Raw, w.Raw) {
			return fmt.Sprintf("at byte %d: got %s (%d bytes), want %s (%d bytes)", off, g.Op, gn, w.Op, wn)
		}
		got, want, off = got[gn:], want[wn:], off+gn
	}
	return fmt.Sprintf("one ends at byte %d (got %d more, want %d more)", off, len(got), len(want))
}

// The golden files start with ESC @, end with the partial cut, and carry QR
// codes the way the options say.
func TestEncodeStructure(t *testing.T) {
	t.Parallel()
	fonts := mustFonts(t)
	page, _ := samples()["queue_ticket"].Page()
	for _, native := range []bool{false, true} {
		b, err := Encode(page, Options{Width: raster.Width80, Fonts: fonts, NativeQR: native})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte{0x1B, 0x40}) || !bytes.HasSuffix(b, []byte{0x1D, 0x56, 0x42, 0x00}) {
			t.Errorf("native %v: not framed by ESC @ ... GS V 66 0", native)
		}
		var qr, bands int
		for rest := b; len(rest) > 0; {
			c, n, err := escpos.Next(rest)
			if err != nil {
				t.Fatal(err)
			}
			switch c.Op {
			case escpos.OpQR:
				qr++
				if c.Param == 80 && string(c.Data[1:]) != "https://kiosk.example.vn/q/A012" {
					t.Errorf("stored QR data %q", c.Data[1:])
				}
			case escpos.OpRaster:
				bands++
				if c.Width != raster.Width80 || c.Height > escpos.DefaultBandRows {
					t.Errorf("band %dx%d", c.Width, c.Height)
				}
			}
			rest = rest[n:]
		}
		if (qr > 0) != native || bands == 0 {
			t.Errorf("native %v: %d QR commands, %d bands", native, qr, bands)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	t.Parallel()
	fonts := mustFonts(t)
	ok := Page{Blocks: []Block{Text{Text: "x"}}}
	tests := []struct {
		name string
		page Page
		opt  Options
	}{
		{"width", ok, Options{Width: 512, Fonts: fonts}},
		{"no fonts", ok, Options{Width: raster.Width80}},
		{"empty page", Page{}, Options{Width: raster.Width80, Fonts: fonts}},
		{"negative space", Page{Blocks: []Block{Space{Dots: -1}}}, Options{Width: raster.Width80, Fonts: fonts}},
		{"empty QR", Page{Blocks: []Block{QR{}}}, Options{Width: raster.Width80, Fonts: fonts}},
		{"QR too long", Page{Blocks: []Block{QR{Payload: strings.Repeat("x", 3000)}}}, Options{Width: raster.Width80, Fonts: fonts}},
		{"native QR too long", Page{Blocks: []Block{QR{Payload: strings.Repeat("x", 2400)}}}, Options{Width: raster.Width80, Fonts: fonts, NativeQR: true}},
		{"nil block", Page{Blocks: []Block{nil}}, Options{Width: raster.Width80, Fonts: fonts}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if b, err := Encode(tt.page, tt.opt); err == nil {
				t.Errorf("no error, %d bytes", len(b))
			}
		})
	}
}

func TestTemplatesRequireTheirKey(t *testing.T) {
	t.Parallel()
	for _, s := range []interface{ Page() (Page, error) }{QueueTicket{}, DossierReceipt{}, FeeReceipt{}, InsuranceSummary{Site: "x"}} {
		if _, err := s.Page(); !errors.Is(err, ErrMissingField) {
			t.Errorf("%T: %v", s, err)
		}
	}
}

// pageText is the text blocks of a page, one per line.
func pageText(p Page) string {
	var b strings.Builder
	for _, bl := range p.Blocks {
		switch bl := bl.(type) {
		case Text:
			b.WriteString(bl.Text + "\n")
		case QR:
			b.WriteString("[QR " + bl.Payload + "]\n")
		}
	}
	return b.String()
}

func TestTemplateContent(t *testing.T) {
	t.Parallel()
	s := samples()
	tests := []struct {
		name string
		want []string
	}{
		{"queue_ticket", []string{"BỆNH VIỆN ĐA KHOA TỈNH BÌNH DƯƠNG\n", "A012\n", "Khoa Khám bệnh\n", "Đã kiểm tra BHYT\n", "08:15 15/01/2026", "[QR https://kiosk.example.vn/q/A012]"}},
		{"queue_ticket_unchecked", []string{"Chưa kiểm tra BHYT\n"}},
		{"dossier_receipt", []string{"000.00.12.H29-260115-0007\n", "Thủ tục: Đăng ký khai sinh", "Người nộp: Nguyễn Thị Ánh Tuyết", "Ngày hẹn trả kết quả: 18/01/2026", "[QR 000.00.12.H29-260115-0007]"}},
		{"fee_receipt", []string{"10.000 ₫\n", "Mã giao dịch: FT26015123456789", "[QR FT26015123456789]"}},
		{"insurance_summary", []string{"Mã thẻ: GD4797920001234", "từ 01/01/2026 đến 31/12/2026", "Nơi đăng ký KCB ban đầu: Bệnh viện Đa khoa tỉnh Bình Dương (74001)"}},
	}
	for _, tt := range tests {
		p, err := s[tt.name].Page()
		if err != nil {
			t.Fatal(err)
		}
		text := pageText(p)
		for _, w := range tt.want {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q in:\n%s", tt.name, w, text)
			}
		}
	}
	// A ward ticket has no insurance line at all.
	p, _ := QueueTicket{Number: "1"}.Page()
	if strings.Contains(pageText(p), "BHYT") {
		t.Error("ward ticket mentions BHYT")
	}
}

func TestFormatVND(t *testing.T) {
	t.Parallel()
	tests := map[int64]string{
		0: "0 ₫", 5: "5 ₫", 999: "999 ₫", 1000: "1.000 ₫", 10000: "10.000 ₫", 150000: "150.000 ₫",
		1234567: "1.234.567 ₫", -25000: "-25.000 ₫", -9223372036854775808: "-9.223.372.036.854.775.808 ₫",
	}
	for in, want := range tests {
		if got := FormatVND(in); got != want {
			t.Errorf("FormatVND(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestQRModuleSize(t *testing.T) {
	t.Parallel()
	tests := []struct{ modules, width, want int }{
		{21, raster.Width80, 8}, {29, raster.Width80, 8}, {57, raster.Width80, 5},
		{29, raster.Width58, 7}, {57, raster.Width58, 3}, {177, raster.Width58, 2}, {0, raster.Width80, 2},
	}
	for _, tt := range tests {
		if got := QRModuleSize(tt.modules, tt.width); got != tt.want {
			t.Errorf("QRModuleSize(%d, %d) = %d, want %d", tt.modules, tt.width, got, tt.want)
		}
	}
}

// BenchmarkRenderTicket measures rendering and encoding one 80 mm queue ticket
// with three lines of Vietnamese text and a raster QR code into ESC/POS bytes
// (fonts already loaded, as in the daemon). Target: at most 20 ms per ticket.
func BenchmarkRenderTicket(b *testing.B) {
	fonts := mustFonts(b)
	var p Page
	p.Add(Text{Text: "BỆNH VIỆN ĐA KHOA TỈNH", Size: Large, Bold: true, Align: Center},
		Text{Text: "Khoa Khám bệnh — Quầy tiếp nhận số 3", Align: Center},
		Text{Text: "Đã kiểm tra BHYT. Vui lòng chờ đến lượt được gọi số.", Align: Center},
		QR{Payload: "https://kiosk.example.vn/q/A012"})
	opt := Options{Width: raster.Width80, Fonts: fonts}
	var e escpos.Encoder
	b.ReportAllocs()
	for b.Loop() {
		e.Reset()
		if err := EncodeTo(&e, p, opt); err != nil {
			b.Fatal(err)
		}
	}
	out, _ := e.Bytes()
	b.ReportMetric(float64(len(out)), "bytes/ticket")
}
