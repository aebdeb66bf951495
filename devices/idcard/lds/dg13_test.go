package lds

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard/tlv"
)

// Builders for hand-made DG13 vectors. They use tlv directly rather than the
// encoder under test, so parsing is checked against an independent layout.
func utf8s(s string) []byte      { return tlv.Encode(0x0C, []byte(s)) }
func printable(s string) []byte  { return tlv.Encode(0x13, []byte(s)) }
func seq(parts ...[]byte) []byte { return tlv.Encode(0x30, parts...) }
func field(nn byte, values ...[]byte) []byte {
	return seq(append([][]byte{{0x02, 0x01, nn}}, values...)...)
}

func dg13File(fields ...[]byte) []byte {
	return tlv.Encode(0x6D, seq(
		[]byte{0x02, 0x01, 0x01},
		[]byte{0x06, 0x06, 0x28, 0xD3, 0x16, 0x01, 0x00, 0x08},
		tlv.Encode(0x31, fields...),
	))
}

func ptr(s string) *string { return &s }

// A fictitious citizen: the ID number, names and places are invented.
func sampleFields() [][]byte {
	return [][]byte{
		field(2, utf8s("Nguyễn Văn An")), // out of order: parsing goes by number
		field(1, printable("001099012345")),
		field(3, utf8s("07/03/1999")),
		field(4, utf8s("Nam")),
		field(5, utf8s("Việt Nam")),
		field(6, utf8s("Kinh")),
		field(7, utf8s("Không")),
		field(8, utf8s("Xã Một, Huyện Hai, Hà Nội")),
		field(9, utf8s("Số 1 Phố Ba, Phường Bốn, Hà Nội")),
		field(10, utf8s("Nốt ruồi C:1cm dưới sau mép trái")),
		field(11, utf8s("10/08/2021")),
		field(12, utf8s("07/03/2039")),
		field(13, seq(utf8s("Nguyễn Văn Bình"), utf8s(""))),
		field(16, printable("XYZ"), utf8s("kept")),
		field(42, seq()),
	}
}

func TestParseDG13(t *testing.T) {
	t.Parallel()
	got, err := ParseDG13(dg13File(sampleFields()...))
	if err != nil {
		t.Fatal(err)
	}
	want := &DG13{
		IDNumber:            ptr("001099012345"),
		FullName:            ptr("Nguyễn Văn An"),
		DateOfBirth:         &Date{1999, time.March, 7},
		Sex:                 ptr("Nam"),
		Nationality:         ptr("Việt Nam"),
		Ethnicity:           ptr("Kinh"),
		Religion:            ptr("Không"),
		PlaceOfOrigin:       ptr("Xã Một, Huyện Hai, Hà Nội"),
		PlaceOfResidence:    ptr("Số 1 Phố Ba, Phường Bốn, Hà Nội"),
		IdentifyingFeatures: ptr("Nốt ruồi C:1cm dưới sau mép trái"),
		DateOfIssue:         &Date{2021, time.August, 10},
		DateOfExpiry:        &Expiry{Date: Date{2039, time.March, 7}},
		Parents:             &Parents{Father: ptr("Nguyễn Văn Bình")},
		Other: map[int][]byte{
			16: append(printable("XYZ"), utf8s("kept")...),
			42: seq(),
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseDG13 =\n%+v\nwant\n%+v", got, want)
	}
	if got.Spouse != nil || got.OldIDNumber != nil {
		t.Error("absent fields 14 and 15 must be nil")
	}
	if s := got.DateOfBirth.String(); s != "1999-03-07" {
		t.Errorf("DateOfBirth.String() = %q", s)
	}
}

func TestParseDG13Fields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		field []byte
		check func(*DG13) bool
	}{
		{"no expiry", field(12, utf8s("Không thời hạn")), func(d *DG13) bool {
			return d.DateOfExpiry != nil && d.DateOfExpiry.None
		}},
		{"no expiry, unaccented", field(12, printable("KHONG THOI HAN")), func(d *DG13) bool {
			return d.DateOfExpiry != nil && d.DateOfExpiry.None
		}},
		{"expiry absent", field(1, printable("001099012345")), func(d *DG13) bool {
			return d.DateOfExpiry == nil
		}},
		{"year of birth only", field(3, utf8s("1950")), func(d *DG13) bool {
			return *d.DateOfBirth == Date{Year: 1950} && d.DateOfBirth.String() == "1950"
		}},
		{"unknown day and month", field(3, utf8s("00/00/1950")), func(d *DG13) bool {
			return *d.DateOfBirth == Date{Year: 1950}
		}},
		{"unknown day", field(3, utf8s("00/05/1950")), func(d *DG13) bool {
			return *d.DateOfBirth == Date{Year: 1950, Month: time.May} && d.DateOfBirth.String() == "1950-05"
		}},
		{"leap day", field(3, utf8s("29/02/2000")), func(d *DG13) bool {
			return *d.DateOfBirth == Date{2000, time.February, 29}
		}},
		{"mother only", field(13, seq(utf8s(""), utf8s("Trần Thị Cúc"))), func(d *DG13) bool {
			return d.Parents.Father == nil && *d.Parents.Mother == "Trần Thị Cúc"
		}},
		{"parents empty", field(13, seq()), func(d *DG13) bool {
			return d.Parents != nil && d.Parents.Father == nil && d.Parents.Mother == nil
		}},
		{"parents without SEQUENCE", field(13, utf8s("A"), utf8s("B")), func(d *DG13) bool {
			return *d.Parents.Father == "A" && *d.Parents.Mother == "B"
		}},
		{"spouse", field(14, seq(utf8s("Lê Thị Dung"))), func(d *DG13) bool {
			return d.Spouse != nil && *d.Spouse == "Lê Thị Dung"
		}},
		{"spouse empty", field(14, seq(utf8s(""))), func(d *DG13) bool { return d.Spouse == nil }},
		{"spouse none", field(14, seq()), func(d *DG13) bool { return d.Spouse == nil }},
		{"old ID", field(15, printable("012345678")), func(d *DG13) bool {
			return *d.OldIDNumber == "012345678"
		}},
		{"present but empty", field(7, utf8s("")), func(d *DG13) bool {
			return d.Religion != nil && *d.Religion == ""
		}},
		{"number without value", field(7), func(d *DG13) bool { return d.Religion == nil }},
		{"field 16 with no value", field(16), func(d *DG13) bool {
			v, ok := d.Other[16]
			return ok && len(v) == 0
		}},
		{"two-byte field number", seq([]byte{0x02, 0x02, 0x01, 0x00}, utf8s("x")), func(d *DG13) bool {
			return bytes.Equal(d.Other[256], utf8s("x"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := ParseDG13(dg13File(tt.field))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(d) {
				t.Errorf("unexpected result %+v", d)
			}
		})
	}
}

func TestParseDG13Errors(t *testing.T) {
	t.Parallel()
	oid := []byte{0x06, 0x06, 0x28, 0xD3, 0x16, 0x01, 0x00, 0x08}
	tests := map[string][]byte{
		"wrong file tag":    tlv.Encode(0x6C, seq([]byte{2, 1, 1}, oid, tlv.Encode(0x31))),
		"version 2":         tlv.Encode(0x6D, seq([]byte{2, 1, 2}, oid, tlv.Encode(0x31))),
		"other OID":         tlv.Encode(0x6D, seq([]byte{2, 1, 1}, []byte{6, 3, 0x2A, 3, 4}, tlv.Encode(0x31))),
		"missing SET":       tlv.Encode(0x6D, seq([]byte{2, 1, 1}, oid)),
		"element not SEQ":   dg13File(tlv.Encode(0x31, []byte{2, 1, 1}, utf8s("x"))),
		"no field number":   dg13File(seq(utf8s("x"))),
		"negative number":   dg13File(seq([]byte{2, 1, 0xFF}, utf8s("x"))),
		"non-minimal int":   dg13File(seq([]byte{2, 2, 0, 1}, utf8s("x"))),
		"repeated field":    dg13File(field(2, utf8s("A")), field(2, utf8s("B"))),
		"two values":        dg13File(field(2, utf8s("A"), utf8s("B"))),
		"bad UTF-8":         dg13File(field(2, utf8s("Nguy\xff\xfen"))),
		"control char":      dg13File(field(1, printable("0010\x0099012345"))),
		"IA5String":         dg13File(field(2, tlv.Encode(0x16, []byte("A")))),
		"31 February":       dg13File(field(3, utf8s("31/02/2000"))),
		"month 13":          dg13File(field(11, utf8s("01/13/2000"))),
		"ISO date":          dg13File(field(3, utf8s("2000-01-01"))),
		"day without month": dg13File(field(3, utf8s("05/00/1950"))),
		"bad expiry":        dg13File(field(12, utf8s("mãi mãi"))),
		"three parents":     dg13File(field(13, seq(utf8s("A"), utf8s("B"), utf8s("C")))),
		"two spouses":       dg13File(field(14, seq(utf8s("A"), utf8s("B")))),
		"truncated":         dg13File(field(2, utf8s("Nguyễn Văn An")))[:20],
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d, err := ParseDG13(b)
			if err == nil {
				t.Fatalf("ParseDG13 succeeded: %+v", d)
			}
			for _, secret := range []string{"Nguy", "2000", "mãi", "0010"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error quotes card data: %v", err)
				}
			}
		})
	}
}

func TestEncodeDG13(t *testing.T) {
	t.Parallel()
	d, err := ParseDG13(dg13File(sampleFields()...))
	if err != nil {
		t.Fatal(err)
	}
	d.Spouse = ptr("Lê Thị Dung")
	d.OldIDNumber = ptr("012345678")
	d.DateOfExpiry = &Expiry{None: true}
	enc, err := EncodeDG13(d)
	if err != nil {
		t.Fatal(err)
	}
	// The encoder writes fields in ascending number, text as UTF8String, father
	// and mother always both present in the SEQUENCE.
	f := sampleFields()
	want := dg13File(
		field(1, utf8s("001099012345")), f[0], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10],
		field(12, utf8s("Không thời hạn")),
		f[12],
		field(14, seq(utf8s("Lê Thị Dung"))),
		field(15, utf8s("012345678")),
		f[13], f[14],
	)
	if !bytes.Equal(enc, want) {
		t.Fatalf("EncodeDG13 =\n% X\nwant\n% X", enc, want)
	}
	back, err := ParseDG13(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, d) {
		t.Errorf("round trip changed the record:\n%+v\n%+v", back, d)
	}
	if enc, err := EncodeDG13(&DG13{}); err != nil || !bytes.Equal(enc, dg13File()) {
		t.Errorf("empty DG13 = % X, %v", enc, err)
	}
}

func TestEncodeDG13Errors(t *testing.T) {
	t.Parallel()
	tests := map[string]*DG13{
		"bad date":       {DateOfBirth: &Date{2001, time.February, 29}},
		"bad expiry":     {DateOfExpiry: &Expiry{Date: Date{Year: 0}}},
		"bad UTF-8":      {FullName: ptr("\xff")},
		"bad parent":     {Parents: &Parents{Mother: ptr("\xff")}},
		"known in Other": {Other: map[int][]byte{2: utf8s("x")}},
		"bad raw":        {Other: map[int][]byte{16: {0x0C, 0x05}}},
	}
	for name, d := range tests {
		if _, err := EncodeDG13(d); err == nil {
			t.Errorf("%s: EncodeDG13 succeeded", name)
		}
	}
}
