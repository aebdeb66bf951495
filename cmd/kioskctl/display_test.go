package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	gzqr "github.com/makiuchi-d/gozxing/qrcode"
)

func TestDisplayPreview(t *testing.T) {
	t.Parallel()
	const payload = "00020101021238530010A0000007270123000697041601092576788590208QRIBFTTA53037045405100005802VN62150811Chuyen tien630453E6"
	for _, tc := range []struct {
		name    string
		args    []string
		wantOut string
		wantErr string
	}{
		{name: "240x240", args: []string{"--payload", payload, "--amount", "10000"}, wantOut: "240x240, QR 37 modules at 4 px each (180 px with the 4-module quiet zone)"},
		{name: "240x320", args: []string{"--payload", payload, "--amount", "10000", "--height", "320"}, wantOut: "240x320, QR 37 modules at 5 px each"},
		{name: "too small", args: []string{"--payload", payload, "--width", "64", "--height", "64"}, wantErr: "does not fit"},
		{name: "no payload", args: nil, wantErr: "--payload and --png are required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "screen.png")
			var stdout, stderr bytes.Buffer
			err := runDisplayPreview(context.Background(), append(tc.args, "--png", file), &stdout, &stderr)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stdout.String(), tc.wantOut) {
				t.Errorf("output %q, want %q", stdout.String(), tc.wantOut)
			}
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			bmp, err := gozxing.NewBinaryBitmapFromImage(img)
			if err != nil {
				t.Fatal(err)
			}
			res, err := gzqr.NewQRCodeReader().Decode(bmp, nil)
			if err != nil || res.GetText() != payload {
				t.Fatalf("preview decodes to %v, %v", res, err)
			}
		})
	}
}
