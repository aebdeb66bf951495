package lds

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"reflect"
	"testing"

	"github.com/vnkiosk/kiosk/devices/idcard/tlv"
)

func testJPEG(t testing.TB, w, h int, grey bool) []byte {
	t.Helper()
	var img image.Image
	if grey {
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i := range g.Pix {
			g.Pix[i] = byte(i)
		}
		img = g
	} else {
		c := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				c.Set(x, y, color.RGBA{byte(x * 10), byte(y * 10), 128, 255})
			}
		}
		img = c
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// faceRecord builds an ISO/IEC 19794-5:2005 record by hand, independently of the
// encoder: one image with the given feature point count and image data type.
func faceRecord(img []byte, points int, dataType byte, w, h uint16) []byte {
	info := make([]byte, 20)
	blockLen := 20 + 8*points + 12 + len(img)
	binary.BigEndian.PutUint32(info[0:], uint32(blockLen))
	binary.BigEndian.PutUint16(info[4:], uint16(points))
	info[6] = 1 // male, which the parser ignores
	rec := []byte("FAC\x00010\x00")
	rec = binary.BigEndian.AppendUint32(rec, uint32(14+blockLen))
	rec = binary.BigEndian.AppendUint16(rec, 1)
	rec = append(rec, info...)
	rec = append(rec, make([]byte, 8*points)...)
	rec = append(rec, 1, dataType)
	rec = binary.BigEndian.AppendUint16(rec, w)
	rec = binary.BigEndian.AppendUint16(rec, h)
	rec = append(rec, 1, 2, 0, 0, 0, 0)
	return append(rec, img...)
}

func bhtFace() []byte {
	return tlv.Encode(0xA1, unhexConst("80020101 810102 870201 01 88020008"))
}

func unhexConst(s string) []byte {
	b, err := hexDecode(s)
	if err != nil {
		panic(err)
	}
	return b
}

func dg2File(count byte, blocks ...[]byte) []byte {
	parts := [][]byte{{0x02, 0x01, count}}
	for _, b := range blocks {
		parts = append(parts, tlv.Encode(0x7F60, bhtFace(), tlv.Encode(0x5F2E, b)))
	}
	return tlv.Encode(0x75, tlv.Encode(0x7F61, parts...))
}

var jp2Head = []byte{0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A, 0, 0, 0, 0x14}

func TestParseDG2(t *testing.T) {
	t.Parallel()
	jpg := testJPEG(t, 8, 6, false)
	j2k := []byte{0xFF, 0x4F, 0xFF, 0x51, 0x00, 0x29}
	tests := []struct {
		name string
		file []byte
		want []Face
	}{
		{"jpeg", dg2File(1, faceRecord(jpg, 0, 0, 8, 6)),
			[]Face{{Image: jpg, MIME: MIMEJPEG, Width: 8, Height: 6, ImageType: 1, ColourSpace: 1}}},
		{"jp2 with feature points", dg2File(1, faceRecord(jp2Head, 3, 1, 480, 640)),
			[]Face{{Image: jp2Head, MIME: MIMEJP2, Width: 480, Height: 640, ImageType: 1, ColourSpace: 1}}},
		// The signature decides the type even when the record's data type is wrong.
		{"j2k labelled jpeg", dg2File(1, faceRecord(j2k, 0, 0, 1, 1)),
			[]Face{{Image: j2k, MIME: MIMEJ2K, Width: 1, Height: 1, ImageType: 1, ColourSpace: 1}}},
		{"two templates", dg2File(2, faceRecord(jpg, 0, 0, 8, 6), faceRecord(j2k, 0, 1, 2, 3)),
			[]Face{
				{Image: jpg, MIME: MIMEJPEG, Width: 8, Height: 6, ImageType: 1, ColourSpace: 1},
				{Image: j2k, MIME: MIMEJ2K, Width: 2, Height: 3, ImageType: 1, ColourSpace: 1},
			}},
		{"constructed data block", tlv.Encode(0x75, tlv.Encode(0x7F61, []byte{2, 1, 1},
			tlv.Encode(0x7F60, bhtFace(), tlv.Encode(0x7F2E, faceRecord(jpg, 0, 0, 8, 6))))),
			[]Face{{Image: jpg, MIME: MIMEJPEG, Width: 8, Height: 6, ImageType: 1, ColourSpace: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDG2(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseDG2 = %+v, want %+v", got, tt.want)
			}
			// The image is a copy: the DG2 buffer can be wiped after parsing.
			clear(tt.file)
			if !reflect.DeepEqual(got, tt.want) {
				t.Error("parsed image aliases the file")
			}
		})
	}
}

func TestParseDG2Errors(t *testing.T) {
	t.Parallel()
	jpg := testJPEG(t, 4, 4, true)
	good := faceRecord(jpg, 0, 0, 4, 4)
	mutate := func(f func([]byte)) []byte {
		r := bytes.Clone(good)
		f(r)
		return r
	}
	tests := map[string][]byte{
		"count mismatch":    dg2File(2, good),
		"count zero":        dg2File(0),
		"not FAC":           dg2File(1, mutate(func(r []byte) { r[0] = 'X' })),
		"version 030":       dg2File(1, mutate(func(r []byte) { copy(r[4:], "030") })),
		"record too long":   dg2File(1, mutate(func(r []byte) { binary.BigEndian.PutUint32(r[8:], uint32(len(r)+1)) })),
		"record too short":  dg2File(1, mutate(func(r []byte) { binary.BigEndian.PutUint32(r[8:], 3) })),
		"no image":          dg2File(1, mutate(func(r []byte) { binary.BigEndian.PutUint16(r[12:], 0) })),
		"two images in one": dg2File(1, mutate(func(r []byte) { binary.BigEndian.PutUint16(r[12:], 2) })),
		"block too long":    dg2File(1, mutate(func(r []byte) { binary.BigEndian.PutUint32(r[14:], 0xFFFFFFFF) })),
		"feature overflow":  dg2File(1, mutate(func(r []byte) { binary.BigEndian.PutUint16(r[18:], 0xFFFF) })),
		"not an image":      dg2File(1, mutate(func(r []byte) { r[46] = 0 })),
		"short record":      dg2File(1, good[:10]),
		"not face format": tlv.Encode(0x75, tlv.Encode(0x7F61, []byte{2, 1, 1},
			tlv.Encode(0x7F60, tlv.Encode(0xA1, unhexConst("8702 0101 8802 0007")), tlv.Encode(0x5F2E, good)))),
		"no header": tlv.Encode(0x75, tlv.Encode(0x7F61, []byte{2, 1, 1},
			tlv.Encode(0x7F60, tlv.Encode(0x5F2E, good)))),
		"no format owner": tlv.Encode(0x75, tlv.Encode(0x7F61, []byte{2, 1, 1},
			tlv.Encode(0x7F60, tlv.Encode(0xA1, unhexConst("8802 0008")), tlv.Encode(0x5F2E, good)))),
		"wrong template": tlv.Encode(0x75, tlv.Encode(0x7F61, []byte{2, 1, 1},
			tlv.Encode(0x7F61, bhtFace(), tlv.Encode(0x5F2E, good)))),
		"wrong file": tlv.Encode(0x61, tlv.Encode(0x7F61)),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if f, err := ParseDG2(b); err == nil {
				t.Fatalf("ParseDG2 succeeded: %d faces", len(f))
			}
		})
	}
}

func TestEncodeDG2(t *testing.T) {
	t.Parallel()
	for _, grey := range []bool{false, true} {
		jpg := testJPEG(t, 24, 32, grey)
		face, err := FaceFromJPEG(jpg)
		if err != nil {
			t.Fatal(err)
		}
		wantCS := ColourSpaceRGB24
		if grey {
			wantCS = ColourSpaceGrey8
		}
		if face.Width != 24 || face.Height != 32 || face.ColourSpace != wantCS || face.ImageType != FaceImageFullFrontal {
			t.Errorf("FaceFromJPEG = %+v", face)
		}
		enc, err := EncodeDG2(face)
		if err != nil {
			t.Fatal(err)
		}
		// Pin the layout against the hand-built record (which differs only in the
		// gender byte and the colour space / source type bytes).
		rec := faceRecord(jpg, 0, 0, 24, 32)
		rec[20] = 0                        // gender unspecified
		rec[40], rec[41] = byte(wantCS), 3 // colour space, digital still
		want := tlv.Encode(0x75, tlv.Encode(0x7F61, []byte{2, 1, 1},
			tlv.Encode(0x7F60, tlv.Encode(0xA1, unhexConst("80020101 810102 820100 87020101 88020008")),
				tlv.Encode(0x5F2E, rec))))
		if !bytes.Equal(enc, want) {
			for i := range min(len(enc), len(want)) {
				if enc[i] != want[i] {
					t.Fatalf("EncodeDG2 differs at byte %d: % X, want % X", i, enc[i:min(i+16, len(enc))], want[i:min(i+16, len(want))])
				}
			}
			t.Fatalf("EncodeDG2 is %d bytes, want %d", len(enc), len(want))
		}
		got, err := ParseDG2(enc)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, []Face{face}) {
			t.Errorf("round trip = %+v", got)
		}
	}
	bad := map[string]Face{
		"not an image": {Image: []byte("GIF89a")},
		"too wide":     {Image: jp2Head, Width: 70000, Height: 1},
		"bad type":     {Image: jp2Head, ImageType: 256},
	}
	for name, f := range bad {
		if _, err := EncodeDG2(f); err == nil {
			t.Errorf("%s: EncodeDG2 succeeded", name)
		}
	}
	if _, err := EncodeDG2(); err == nil {
		t.Error("EncodeDG2 with no face succeeded")
	}
	if _, err := FaceFromJPEG(jp2Head); err == nil {
		t.Error("FaceFromJPEG accepted a JP2")
	}
	if _, err := FaceFromJPEG([]byte{0xFF, 0xD8, 0xFF, 0x00}); err == nil {
		t.Error("FaceFromJPEG accepted a broken JPEG")
	}
}

func TestDetectImageMIME(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   []byte
		want string
	}{
		{[]byte{0xFF, 0xD8, 0xFF, 0xE0}, MIMEJPEG},
		{jp2Head, MIMEJP2},
		{[]byte{0xFF, 0x4F, 0xFF, 0x51}, MIMEJ2K},
		{[]byte{0xFF, 0xD8}, ""},
		{jp2Head[:11], ""},
		{[]byte("\x89PNG\r\n\x1a\n"), ""},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := DetectImageMIME(tt.in); got != tt.want {
			t.Errorf("DetectImageMIME(% X) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
