package main

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	gzqr "github.com/makiuchi-d/gozxing/qrcode"
)

func TestPaymentVietQR(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{
			// The published ACB example (DOMAIN.md).
			name: "ACB example",
			args: []string{"--bin", "970416", "--account", "257678859", "--amount", "10000", "--purpose", "Chuyen tien"},
			want: "00020101021238530010A0000007270123000697041601092576788590208QRIBFTTA53037045405100005802VN62150811Chuyen tien630453E6\n",
		},
		{
			// Vietnamese purpose is transliterated; subiz/vietqr's README example.
			name: "Vietnamese purpose",
			args: []string{"--bin", "970415", "--account", "0011001932418", "--amount", "120000", "--purpose", "ủng hộ lũ lụt"},
			want: "00020101021238570010A00000072701270006970415011300110019324180208QRIBFTTA530370454061200005802VN62170813ung ho lu lut6304C15C\n",
		},
		{
			// NAPAS v1.5.2 dynamic card example: --service and --ref.
			name: "card with bill number",
			args: []string{"--bin", "970403", "--account", "9704031101234567", "--service", "QRIBFTTC", "--amount", "180000", "--ref", "NPS6869", "--purpose", "thanh toan don hang"},
			want: "00020101021238600010A00000072701300006970403011697040311012345670208QRIBFTTC530370454061800005802VN62340107NPS68690819thanh toan don hang6304A203\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := run(append([]string{"payment", "vietqr"}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if out != tc.want {
				t.Errorf("stdout %q\nwant   %q", out, tc.want)
			}
		})
	}
}

func TestPaymentVietQRPNG(t *testing.T) {
	t.Parallel()
	f := filepath.Join(t.TempDir(), "fee.png")
	code, out, errOut := run("payment", "vietqr", "--bin", "970416", "--account", "257678859", "--amount", "25000",
		"--purpose", "Lệ phí hộ tịch", "--ref", "HS-000123", "--png", f, "--size", "300")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	payload := strings.TrimSuffix(out, "\n")
	if !strings.Contains(payload, "0814Le phi ho tich") || !strings.Contains(payload, "0109HS-000123") {
		t.Errorf("payload %q lacks the transliterated purpose or the reference", payload)
	}
	r, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	img, err := png.Decode(r)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 300 {
		t.Errorf("--size 300 wrote a %v image", b)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gzqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("the written PNG does not scan: %v", err)
	}
	if res.GetText() != payload {
		t.Errorf("PNG holds %q, stdout printed %q", res.GetText(), payload)
	}
}

func TestPaymentVietQRErrors(t *testing.T) {
	t.Parallel()
	ok := []string{"--bin", "970416", "--account", "257678859", "--amount", "10000", "--purpose", "Chuyen tien"}
	small := filepath.Join(t.TempDir(), "small.png")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no flags", nil, 2, "kioskctl payment vietqr: missing --bin, --account, --amount, --purpose"},
		{"amount forgotten", []string{"--bin", "970416", "--account", "1", "--purpose", "x"}, 2, "missing --amount"},
		{"stray argument", append(ok, "extra"), 2, `unexpected argument "extra"`},
		{"bad flag", append(ok, "--bogus"), 2, "flag provided but not defined: -bogus"},
		{"amount not a number", []string{"--bin", "970416", "--account", "1", "--amount", "10k", "--purpose", "x"}, 2, `invalid value "10k" for flag -amount`},
		{"bad BIN", []string{"--bin", "9704", "--account", "1", "--amount", "0", "--purpose", "x"}, 1, `field 38.01.00 (acquirer BIN): "9704" is not 6 digits`},
		{"bad service", append(ok, "--service", "QRPUSH"), 1, `field 38.02 (service code): "QRPUSH"`},
		{"purpose too long", []string{"--bin", "970416", "--account", "1", "--amount", "1", "--purpose", "Nộp lệ phí chứng thực bản sao"}, 1, "at most 25 fit"},
		{"png into a missing directory", append(ok, "--png", "/nonexistent-dir/x.png"), 1, "writing the QR image:"},
		{"png too small", append(ok, "--png", small, "--size", "10"), 1, "PNG size 10 px"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := run(append([]string{"payment", "vietqr"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.code, errOut)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing on failure", out)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr %q\nlacks %q", errOut, tc.want)
			}
		})
	}
	// After the parallel subtests, which run once this function returns.
	t.Cleanup(func() {
		if _, err := os.Stat(small); !os.IsNotExist(err) {
			t.Errorf("a failed --png left %s behind (stat: %v)", small, err)
		}
	})
}

func TestPaymentVietQRStatic(t *testing.T) {
	t.Parallel()
	// --amount 0 is a static code, the ACB static example.
	code, out, errOut := run("payment", "vietqr", "--bin", "970416", "--account", "257678859", "--amount", "0", "--purpose", "")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if want := "00020101021138530010A0000007270123000697041601092576788590208QRIBFTTA53037045802VN6304AE9F\n"; out != want {
		t.Errorf("stdout %q\nwant   %q", out, want)
	}
}
