package pdfpages

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"strings"
	"testing"

	"github.com/go-pdf/fpdf"
)

func jpegOf(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestParseFPDF reads a PDF written by the library the scanner uses, with
// compression on (content streams deflated) and off.
func TestParseFPDF(t *testing.T) {
	t.Parallel()
	grey := image.NewGray(image.Rect(0, 0, 40, 60))
	colour := image.NewRGBA(image.Rect(0, 0, 30, 20))
	for i := range colour.Pix {
		colour.Pix[i] = byte(i)
	}
	for _, compress := range []bool{true, false} {
		t.Run(fmt.Sprint("compress=", compress), func(t *testing.T) {
			t.Parallel()
			pdf := fpdf.New("P", "mm", "A4", "")
			pdf.SetCompression(compress)
			opt := fpdf.ImageOptions{ImageType: "JPG"}
			pdf.AddPage()
			pdf.RegisterImageOptionsReader("g", opt, bytes.NewReader(jpegOf(t, grey)))
			pdf.ImageOptions("g", 10, 20, 100, 150, false, opt, 0, "")
			pdf.AddPage()
			pdf.RegisterImageOptionsReader("c", opt, bytes.NewReader(jpegOf(t, colour)))
			pdf.ImageOptions("c", 0, 0, 210, 140, false, opt, 0, "")
			pdf.SetFont("Helvetica", "", 12)
			pdf.Text(20, 200, "(parenthesised) text [with] <delimiters>")
			var out bytes.Buffer
			if err := pdf.Output(&out); err != nil {
				t.Fatal(err)
			}
			d, err := Parse(out.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if d.Count != 2 || len(d.Pages) != 2 {
				t.Fatalf("count %d, %d pages", d.Count, len(d.Pages))
			}
			const mm = 72 / 25.4
			wants := []struct {
				w, h       int
				cs         string
				x, y, a, b float64 // placement in mm from the top left
			}{
				{40, 60, "DeviceGray", 10, 20, 100, 150},
				{30, 20, "DeviceRGB", 0, 0, 210, 140},
			}
			for i, p := range d.Pages {
				want := wants[i]
				if !near(p.Width(), 210*mm) || !near(p.Height(), 297*mm) {
					t.Errorf("page %d is %.2fx%.2f pt", i+1, p.Width(), p.Height())
				}
				if len(p.Images) != 1 {
					t.Fatalf("page %d has %d images", i+1, len(p.Images))
				}
				im := p.Images[0]
				if im.Width != want.w || im.Height != want.h || im.ColorSpace != want.cs || im.Filter != "DCTDecode" || im.BitsPerComponent != 8 {
					t.Errorf("page %d image %+v", i+1, im)
				}
				m := im.CTM
				if !near(m[0], want.a*mm) || !near(m[3], want.b*mm) || !near(m[4], want.x*mm) ||
					!near(m[5], (297-want.y-want.b)*mm) || m[1] != 0 || m[2] != 0 {
					t.Errorf("page %d image placed by %v", i+1, m)
				}
				cfg, err := jpeg.DecodeConfig(bytes.NewReader(im.Data))
				if err != nil || cfg.Width != want.w || (cfg.ColorModel == color.GrayModel) != (want.cs == "DeviceGray") {
					t.Errorf("page %d JPEG %+v %v", i+1, cfg, err)
				}
			}
		})
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 0.01 }

// handmade is a PDF with a two-level page tree, an inherited media box and
// resources, a content array, a reference for a stream length, and a form
// XObject that must not count as an image.
func handmade() string {
	stream := func(dict, data string) string {
		return fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
	}
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 2 /MediaBox [0 0 100 200] /Resources << /XObject << /Im 6 0 R /Fm 7 0 R >> >> >>",
		"<< /Type /Pages /Parent 2 0 R /Kids [4 0 R 5 0 R] /Count 2 >>",
		"<< /Type /Page /Parent 3 0 R /Contents [8 0 R 9 0 R] >>",
		"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 50 60] /Contents 10 0 R >>",
		"<< /Type /XObject /Subtype /Image /Width 2 /Height 1 /ColorSpace /DeviceGray /BitsPerComponent 8 /Length 11 0 R >>\nstream\n\x00\xff\nendstream",
		"<< /Type /XObject /Subtype /Form /Length 0 >>\nstream\n\nendstream",
		stream("", "q 2 0 0 3 10 20 "),
		stream("", "cm /Im Do Q % comment\n/Fm Do\n"),
		stream("", "q 1 0 0 1 5 5 cm /Im Do Q\n"),
		"2",
	}
	var b strings.Builder
	b.WriteString("%PDF-1.4\n%\xe2\xe3\n")
	for i, o := range objs {
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	b.WriteString("xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 12 /Root 1 0 R >>\nstartxref\n0\n%%EOF\n")
	return b.String()
}

func TestParseHandmade(t *testing.T) {
	t.Parallel()
	d, err := Parse([]byte(handmade()))
	if err != nil {
		t.Fatal(err)
	}
	if d.Count != 2 || len(d.Pages) != 2 {
		t.Fatalf("%+v", d)
	}
	if d.Pages[0].MediaBox != [4]float64{0, 0, 100, 200} || d.Pages[1].MediaBox != [4]float64{0, 0, 50, 60} {
		t.Errorf("media boxes %v %v", d.Pages[0].MediaBox, d.Pages[1].MediaBox)
	}
	p := d.Pages[0]
	if len(p.Images) != 1 || p.Images[0].CTM != [6]float64{2, 0, 0, 3, 10, 20} || string(p.Images[0].Data) != "\x00\xff" {
		t.Errorf("page 1 images %+v", p.Images)
	}
	if im := d.Pages[1].Images; len(im) != 1 || im[0].CTM != [6]float64{1, 0, 0, 1, 5, 5} || im[0].Width != 2 {
		t.Errorf("page 2 images %+v", im)
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	good := handmade()
	tests := []struct {
		name, in, want string
	}{
		{"not a PDF", "GIF89a", "no %PDF- header"},
		{"empty PDF", "%PDF-1.4\n", "no xref table"},
		{"truncated object", good[:200], "malformed"},
		{"encrypted", strings.Replace(good, "/Root 1 0 R", "/Root 1 0 R /Encrypt 3 0 R", 1), "encrypted"},
		{"no root", strings.Replace(good, "/Root 1 0 R", "", 1), "no /Root"},
		{"stream longer than the file", strings.Replace(good, "/Length 26 >>", "/Length 99999 >>", 1), "/Length"},
		{"undeclared image", strings.Replace(good, "/Im 6 0 R", "/Other 6 0 R", 1), "resources do not name"},
		{"bad cm", strings.Replace(good, "q 1 0 0 1 5 5 cm", "q 1 0 0 /x 5 5 cm", 1), "cm operand"},
		{"page tree cycle", strings.Replace(good, "/Kids [4 0 R 5 0 R]", "/Kids [3 0 R 5 0 R]", 1), "deeper than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.in))
			if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// FuzzParse feeds arbitrary bytes: errors are fine, panics and hangs are not.
func FuzzParse(f *testing.F) {
	f.Add([]byte(handmade()))
	f.Add([]byte("%PDF-1.4\n1 0 obj << /A [1 2 (x\\)y) <41> true null] >> endobj\ntrailer << /Root 1 0 R >>"))
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := Parse(in)
		if err == nil && d == nil {
			t.Fatal("nil document without an error")
		}
	})
}
