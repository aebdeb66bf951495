package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vnkiosk/kiosk/devices/scanner/pdfpages"
)

func scanimageOrSkip(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("scanimage"); err != nil {
		t.Skip("scanimage not installed (Debian package sane-utils)")
	}
}

// onlyFile checks that dir holds exactly the named file (or nothing when name
// is ""): no page file, work directory or temporary PDF is left behind.
func onlyFile(t *testing.T, dir, name string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{name}; (name == "" && len(names) != 0) || (name != "" && strings.Join(names, ",") != strings.Join(want, ",")) {
		t.Errorf("%s holds %q, want only %q", dir, names, name)
	}
}

func TestScanCommand(t *testing.T) {
	t.Parallel()
	scanimageOrSkip(t)
	tests := []struct {
		name   string
		args   []string
		pages  int
		colour string
		say    string
	}{
		{"feeder 3 pages grey", []string{"--source", "adf", "--pages", "3"}, 3, "DeviceGray", "3 trang · 3 pages"},
		{"flatbed colour 300", []string{"--colour", "--dpi", "300"}, 1, "DeviceRGB", "300 dpi, màu · colour"},
		{"whole feeder", []string{"--source", "adf", "--dpi", "75", "--device", "test:0"}, 10, "DeviceGray", "10 trang · 10 pages"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			out := filepath.Join(dir, "hoso.pdf")
			code, stdout, stderr := run(append([]string{"scan", "--out", out}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, tc.say) {
				t.Errorf("stdout %q lacks %q", stdout, tc.say)
			}
			if !strings.Contains(stderr, "page 1") || !strings.Contains(stderr, "building the PDF") {
				t.Errorf("no progress on stderr: %q", stderr)
			}
			fi, err := os.Stat(out)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("output %v %v", fi, err)
			}
			b, _ := os.ReadFile(out)
			doc, err := pdfpages.Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if doc.Count != tc.pages || len(doc.Pages) != tc.pages || doc.Pages[0].Images[0].ColorSpace != tc.colour {
				t.Errorf("PDF: %d pages (%d objects), first image %s", doc.Count, len(doc.Pages), doc.Pages[0].Images[0].ColorSpace)
			}
			onlyFile(t, dir, "hoso.pdf")
		})
	}
}

// TestScanFaults checks the bilingual messages a technician sees, and that a
// failed scan leaves no file at all.
func TestScanFaults(t *testing.T) {
	t.Parallel()
	scanimageOrSkip(t)
	tests := []struct {
		name   string
		args   []string
		vi, en string
	}{
		{"jam", []string{"--source", "adf", "--sim-fault", "jammed"}, "Giấy bị kẹt", "Paper is jammed"},
		{"empty feeder", []string{"--source", "adf", "--sim-fault", "no-docs"}, "Chưa có tài liệu", "no document in the scanner"},
		{"busy", []string{"--sim-fault", "busy"}, "Máy quét đang bận", "scanner is busy"},
		{"absent", []string{"--device", "test:5"}, "Không tìm thấy máy quét", "not connected"},
		{"feeder runs out", []string{"--source", "adf", "--pages", "11", "--dpi", "75"}, "hết sau 10 trang", "ran out after 10"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			code, _, stderr := run(append([]string{"scan", "--out", filepath.Join(dir, "x.pdf")}, tc.args...)...)
			if code != 1 || !strings.Contains(stderr, tc.vi) || !strings.Contains(stderr, tc.en) {
				t.Errorf("exit %d, stderr %q; want %q and %q", code, stderr, tc.vi, tc.en)
			}
			onlyFile(t, dir, "")
		})
	}
}

func TestScanUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "x.pdf")
	for _, args := range [][]string{
		{},
		{"--out", out, "--source", "tray"},
		{"--out", out, "--dpi", "1200"},
		{"--out", out, "--pages", "-1"},
		{"--out", out, "--sim-fault", "on-fire"},
		{"--out", out, "--sim-fault", "jammed", "--device", "epson2:libusb:001:004"},
		{"--out", out, "extra"},
	} {
		if code, _, stderr := run(append([]string{"scan"}, args...)...); code != 2 {
			t.Errorf("scan %q: exit %d, %s", args, code, stderr)
		}
	}
	onlyFile(t, dir, "")
}
