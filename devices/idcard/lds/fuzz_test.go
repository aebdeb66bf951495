package lds

import (
	"reflect"
	"testing"
)

// Each fuzz target asserts that hostile input never panics and, when it parses,
// that encoding the result and parsing again gives the same value.

func FuzzParseDG13(f *testing.F) {
	f.Add(dg13File(sampleFields()...))
	f.Add(dg13File(field(12, utf8s("Không thời hạn")), field(13, seq()), field(14, seq(utf8s("A")))))
	f.Add(dg13File(field(3, utf8s("00/00/1950")), field(16)))
	f.Add([]byte{0x6D, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDG13(b)
		if err != nil {
			return
		}
		enc, err := EncodeDG13(d)
		if err != nil {
			t.Fatalf("parsed DG13 does not encode: %v", err)
		}
		back, err := ParseDG13(enc)
		if err != nil {
			t.Fatalf("encoded DG13 does not parse: %v", err)
		}
		if !reflect.DeepEqual(back, d) {
			t.Fatalf("round trip changed the record:\n%+v\n%+v", d, back)
		}
	})
}

func FuzzParseDG2(f *testing.F) {
	jpg := testJPEG(f, 4, 4, false)
	f.Add(dg2File(1, faceRecord(jpg, 0, 0, 4, 4)))
	f.Add(dg2File(1, faceRecord(jp2Head, 2, 1, 100, 200)))
	f.Add(dg2File(2, faceRecord(jpg, 0, 0, 4, 4), faceRecord([]byte{0xFF, 0x4F, 0xFF, 0x51}, 0, 1, 1, 1)))
	f.Fuzz(func(t *testing.T, b []byte) {
		faces, err := ParseDG2(b)
		if err != nil {
			return
		}
		enc, err := EncodeDG2(faces...)
		if err != nil {
			// 255 one-image templates is the encoder's limit; a record may hold
			// more images than that.
			if len(faces) > 255 {
				return
			}
			t.Fatalf("parsed DG2 does not encode: %v", err)
		}
		back, err := ParseDG2(enc)
		if err != nil {
			t.Fatalf("encoded DG2 does not parse: %v", err)
		}
		if !reflect.DeepEqual(back, faces) {
			t.Fatal("round trip changed the faces")
		}
	})
}

func FuzzParseCOM(f *testing.F) {
	f.Add(unhex(f, comVector))
	f.Add(unhex(f, "60 12 5F01 04 30313037 5F36 06 303430303030 5C 00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCOM(b)
		if err != nil {
			return
		}
		enc, err := EncodeCOM(c)
		if err != nil {
			t.Fatalf("parsed EF.COM does not encode: %v", err)
		}
		back, err := ParseCOM(enc)
		if err != nil {
			t.Fatalf("encoded EF.COM does not parse: %v", err)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("round trip changed EF.COM: %+v, %+v", c, back)
		}
	})
}

func FuzzParseDG1(f *testing.F) {
	dg1, err := EncodeDG1(mrzTD1Specimen)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(dg1)
	f.Add(append(dg1, 0, 0, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		mrz, err := ParseDG1(b)
		if err != nil {
			return
		}
		enc, err := EncodeDG1(mrz)
		if err != nil {
			t.Fatalf("parsed MRZ does not encode: %v", err)
		}
		if back, err := ParseDG1(enc); err != nil || back != mrz {
			t.Fatalf("round trip changed the MRZ: %v", err)
		}
	})
}
