package idcard

import (
	"bytes"
	"image/jpeg"
	"os"
	"testing"

	"github.com/vnkiosk/kiosk/devices/idcard/lds"
)

// TestJPEG2000FaceBecomesJPEG builds a DG2 holding a JPEG 2000 face, as some chips
// store it, and checks the document carries a JPEG Chromium can show.
func TestJPEG2000FaceBecomesJPEG(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"faceimage/testdata/face.jp2", "faceimage/testdata/face.j2k"} {
		img, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		dg2, err := lds.EncodeDG2(lds.Face{Image: img, MIME: lds.DetectImageMIME(img), Width: 64, Height: 80, ImageType: 1})
		if err != nil {
			t.Fatal(err)
		}
		d, err := buildDocument(map[int][]byte{2: dg2})
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if d.Photo == nil || d.Photo.MIME != "image/jpeg" {
			t.Fatalf("%s: photo %+v", file, d.Photo)
		}
		if _, err := jpeg.Decode(bytes.NewReader(d.Photo.Data)); err != nil {
			t.Errorf("%s: photo is not a JPEG: %v", file, err)
		}
	}
}

func TestWipe(t *testing.T) {
	t.Parallel()
	photo := []byte{0xFF, 0xD8, 1, 2, 3}
	name := "Nguyễn Văn An"
	d := &Document{FullName: &name, Photo: &Photo{MIME: "image/jpeg", Data: photo}, MRZ: []string{"IDVNM"}}
	d.Wipe()
	if d.FullName != nil || d.Photo != nil || d.MRZ != nil {
		t.Errorf("fields survive Wipe: %+v", d)
	}
	if !bytes.Equal(photo, make([]byte, len(photo))) {
		t.Errorf("photo bytes not zeroed: %x", photo)
	}
	var nilDoc *Document
	nilDoc.Wipe()
}

func TestATRAllowsExtended(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		atr  []byte
		want bool
	}{
		{"card capabilities with extended", []byte{0x3B, 0x85, 0x80, 0x01, 0x80, 0x73, 0x94, 0x01, 0xC0, 0xA2}, true},
		{"card capabilities without extended", []byte{0x3B, 0x85, 0x80, 0x01, 0x80, 0x73, 0x94, 0x01, 0x80, 0xE2}, false},
		{"no historical bytes", []byte{0x3B, 0x80, 0x80, 0x01, 0x01}, false},
		{"historical bytes not compact-TLV", []byte{0x3B, 0x81, 0x80, 0x01, 0x4B, 0xCB}, false},
		{"truncated", []byte{0x3B, 0x8F, 0x80}, false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		if got := ATRAllowsExtended(tt.atr); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func FuzzATRAllowsExtended(f *testing.F) {
	f.Add([]byte{0x3B, 0x85, 0x80, 0x01, 0x80, 0x73, 0x94, 0x01, 0xC0, 0xA2})
	f.Fuzz(func(t *testing.T, atr []byte) { ATRAllowsExtended(atr) })
}
