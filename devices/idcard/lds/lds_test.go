package lds

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/vnkiosk/kiosk/devices/idcard/tlv"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFileTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dg   int
		name string
		fid  uint16
		sfi  byte
		tag  tlv.Tag
	}{
		{1, "EF.DG1", 0x0101, 0x01, 0x61},
		{2, "EF.DG2", 0x0102, 0x02, 0x75},
		{3, "EF.DG3", 0x0103, 0x03, 0x63},
		{4, "EF.DG4", 0x0104, 0x04, 0x76},
		{11, "EF.DG11", 0x010B, 0x0B, 0x6B},
		{13, "EF.DG13", 0x010D, 0x0D, 0x6D},
		{14, "EF.DG14", 0x010E, 0x0E, 0x6E},
		{15, "EF.DG15", 0x010F, 0x0F, 0x6F},
		{16, "EF.DG16", 0x0110, 0x10, 0x70},
	}
	for _, tt := range tests {
		f, err := DataGroupFile(tt.dg)
		if err != nil {
			t.Fatal(err)
		}
		want := File{Name: tt.name, FID: tt.fid, SFI: tt.sfi, Tag: tt.tag, DataGroup: tt.dg}
		if f != want {
			t.Errorf("DataGroupFile(%d) = %+v, want %+v", tt.dg, f, want)
		}
		if g, err := FileByTag(tt.tag); err != nil || g != want {
			t.Errorf("FileByTag(%s) = %+v, %v", tt.tag, g, err)
		}
	}
	for _, n := range []int{0, 17, -1} {
		if _, err := DataGroupFile(n); err == nil {
			t.Errorf("DataGroupFile(%d) succeeded", n)
		}
	}
	if FileCOM.FID != 0x011E || FileCOM.SFI != 0x1E || FileSOD.FID != 0x011D || FileSOD.SFI != 0x1D ||
		FileCardAccess.FID != 0x011C || FileCardAccess.SFI != 0x1C {
		t.Error("EF.COM, EF.SOD or EF.CardAccess has the wrong identifiers")
	}
	if f, err := FileByTag(0x77); err != nil || f != FileSOD {
		t.Errorf("FileByTag(77) = %+v, %v", f, err)
	}
	if _, err := FileByTag(0x7F); err == nil {
		t.Error("FileByTag(7F) succeeded")
	}
	files := Files()
	if len(files) != 19 {
		t.Fatalf("Files() has %d entries, want 19", len(files))
	}
	seen := map[uint16]bool{}
	for _, f := range files {
		if seen[f.FID] || f.FID>>8 != 0x01 || byte(f.FID) != f.SFI {
			t.Errorf("file %s: FID %04X / SFI %02X duplicated or inconsistent", f.Name, f.FID, f.SFI)
		}
		seen[f.FID] = true
	}
}

// comVector is an EF.COM for LDS 1.7, Unicode 4.0.0, listing DG1, DG2, DG13,
// DG14, DG15 and an unknown tag 7F.
const comVector = "60 18 5F01 04 30313037 5F36 06 303430303030 5C 06 61 75 6D 6E 6F 7F"

func TestParseCOM(t *testing.T) {
	t.Parallel()
	c, err := ParseCOM(unhex(t, comVector))
	if err != nil {
		t.Fatal(err)
	}
	want := COM{LDSVersion: "0107", UnicodeVersion: "040000", Tags: []tlv.Tag{0x61, 0x75, 0x6D, 0x6E, 0x6F, 0x7F}}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("ParseCOM = %+v, want %+v", c, want)
	}
	if got := c.DataGroups(); !reflect.DeepEqual(got, []int{1, 2, 13, 14, 15}) {
		t.Errorf("DataGroups = %v", got)
	}
	enc, err := EncodeCOM(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, unhex(t, comVector)) {
		t.Errorf("EncodeCOM = % X", enc)
	}
}

func TestParseCOMErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"wrong tag":          "61 03 5C 01 61",
		"no tag list":        "60 0F 5F01 04 30313037 5F36 06 303430303030",
		"no LDS version":     "60 0B 5F36 06 303430303030 5C 01 61",
		"letters in version": "60 12 5F01 04 3031303A 5F36 06 303430303030 5C 01 61",
		"short version":      "60 11 5F01 03 303130 5F36 06 303430303030 5C 01 61",
		"repeated list":      "60 15 5F01 04 30313037 5F36 06 303430303030 5C 01 61 5C 01 75",
		"truncated":          "60 18 5F01 04 30313037",
		"empty":              "",
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if c, err := ParseCOM(unhex(t, in)); err == nil {
				t.Errorf("ParseCOM succeeded: %+v", c)
			}
		})
	}
	for _, c := range []COM{
		{LDSVersion: "17", UnicodeVersion: "040000"},
		{LDSVersion: "0107", UnicodeVersion: "4.0.0"},
		{LDSVersion: "0107", UnicodeVersion: "040000", Tags: []tlv.Tag{0x7F61}},
	} {
		if _, err := EncodeCOM(c); err == nil {
			t.Errorf("EncodeCOM(%+v) succeeded", c)
		}
	}
}

// The TD1 specimen of ICAO 9303 Part 5.
const mrzTD1Specimen = "I<UTOD231458907<<<<<<<<<<<<<<<7408122F1204159UTO<<<<<<<<<<<6ERIKSSON<<ANNA<MARIA<<<<<<<<<<"

func TestDG1(t *testing.T) {
	t.Parallel()
	enc, err := EncodeDG1(mrzTD1Specimen)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(unhex(t, "61 5D 5F1F 5A"), mrzTD1Specimen...); !bytes.Equal(enc, want) {
		t.Fatalf("EncodeDG1 = % X", enc)
	}
	got, err := ParseDG1(enc)
	if err != nil || got != mrzTD1Specimen {
		t.Fatalf("ParseDG1 = %q, %v", got, err)
	}
	// Padding after the template, as some cards return it, is tolerated.
	if got, err := ParseDG1(append(enc, 0, 0)); err != nil || got != mrzTD1Specimen {
		t.Fatalf("ParseDG1 with padding = %q, %v", got, err)
	}
	bad := map[string][]byte{
		"lower case":  tlv.Encode(TagDG1, tlv.Encode(tagMRZ, []byte(strings.ToLower(mrzTD1Specimen)))),
		"short":       tlv.Encode(TagDG1, tlv.Encode(tagMRZ, []byte(mrzTD1Specimen[:89]))),
		"line breaks": tlv.Encode(TagDG1, tlv.Encode(tagMRZ, []byte(mrzTD1Specimen[:30]+"\n"+mrzTD1Specimen[31:]))),
		"no MRZ":      tlv.Encode(TagDG1, tlv.Encode(0x5F20, []byte(mrzTD1Specimen))),
		"wrong tag":   tlv.Encode(TagDG2, tlv.Encode(tagMRZ, []byte(mrzTD1Specimen))),
	}
	for name, b := range bad {
		_, err := ParseDG1(b)
		if err == nil {
			t.Errorf("%s: ParseDG1 succeeded", name)
			continue
		}
		if strings.Contains(err.Error(), "ERIKSSON") {
			t.Errorf("%s: error quotes the MRZ: %v", name, err)
		}
	}
	if _, err := EncodeDG1("ABC"); err == nil {
		t.Error("EncodeDG1 accepted a 3-character MRZ")
	}
}

func TestWrappedFiles(t *testing.T) {
	t.Parallel()
	set := unhex(t, "31 03 02 01 01")
	seq := unhex(t, "30 03 02 01 01")
	tests := []struct {
		name   string
		encode func([]byte) ([]byte, error)
		parse  func([]byte) ([]byte, error)
		tag    byte
		good   []byte
		bad    []byte
	}{
		{"DG14", EncodeDG14, ParseDG14, 0x6E, set, seq},
		{"DG15", EncodeDG15, ParseDG15, 0x6F, seq, set},
		{"SOD", EncodeSOD, ParseSOD, 0x77, seq, set},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			enc, err := tt.encode(tt.good)
			if err != nil {
				t.Fatal(err)
			}
			if want := append([]byte{tt.tag, byte(len(tt.good))}, tt.good...); !bytes.Equal(enc, want) {
				t.Fatalf("encode = % X, want % X", enc, want)
			}
			got, err := tt.parse(enc)
			if err != nil || !bytes.Equal(got, tt.good) {
				t.Fatalf("parse = % X, %v", got, err)
			}
			if _, err := tt.encode(tt.bad); err == nil {
				t.Error("encode accepted the wrong ASN.1 type")
			}
			for _, in := range [][]byte{
				append([]byte{tt.tag, byte(len(tt.bad))}, tt.bad...),
				append([]byte{tt.tag, byte(len(tt.good) + 2)}, append(tt.good, 0x05, 0x00)...), // trailing NULL
				{tt.tag, 0x02, 0x30, 0x05},                                                     // truncated DER
				append([]byte{0x60, 5}, tt.good...),                                            // wrong template
				{tt.tag, 0x84, 0xFF, 0xFF, 0xFF, 0xFF},                                         // absurd length
			} {
				if _, err := tt.parse(in); err == nil {
					t.Errorf("parse(% X) succeeded", in)
				}
			}
		})
	}
}

func TestErrorsWrap(t *testing.T) {
	t.Parallel()
	_, err := ParseDG13([]byte{0x6D, 0x05, 0x30})
	if !errors.Is(err, tlv.ErrTruncated) {
		t.Errorf("ParseDG13 of a truncated file: %v, want it to wrap tlv.ErrTruncated", err)
	}
	if err == nil || !strings.HasPrefix(err.Error(), "lds: parse EF.DG13: ") {
		t.Errorf("error lacks context: %v", err)
	}
}

func hexDecode(s string) ([]byte, error) {
	return hex.DecodeString(strings.ReplaceAll(s, " ", ""))
}
