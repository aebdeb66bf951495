package mrz

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestCheckDigit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int
	}{
		// ICAO 9303 Part 11 Appendix D.1 and Part 3 §4.9.
		{"L898902C<", 3},
		{"690806", 1},
		{"940623", 6},
		{"520727", 3}, // Part 3 worked example
		{"D23145890734", 9},
		{"", 0},
		{"<<<<<<<<<", 0},
		{"Z", 5}, // 35*7 = 245
	} {
		got, err := CheckDigit(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("CheckDigit(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"l898902c<", "L898 902C", "ÄB", "-"} {
		if _, err := CheckDigit(bad); err == nil {
			t.Errorf("CheckDigit(%q) accepted", bad)
		}
	}
}

// Specimens of ICAO 9303 Part 4 (TD3) and Part 5 (TD1), and a zone shaped like a
// Vietnamese chip ID card (synthetic ID number and name).
var specimens = []struct {
	name string
	text string
	want MRZ
}{
	{
		name: "TD3 Part 4 specimen",
		text: "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10",
		want: MRZ{Format: TD3, DocumentCode: "P", IssuingState: "UTO", DocumentNumber: "L898902C3",
			DateOfBirth: "740812", Sex: "F", DateOfExpiry: "120415", Nationality: "UTO",
			PrimaryName: "ERIKSSON", SecondaryName: "ANNA MARIA", OptionalData1: "ZE184226B"},
	},
	{
		name: "TD3 Appendix D.1 data",
		text: "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C<3UTO6908061F9406236ZE184226B<<<<<14",
		want: MRZ{Format: TD3, DocumentCode: "P", IssuingState: "UTO", DocumentNumber: "L898902C",
			DateOfBirth: "690806", Sex: "F", DateOfExpiry: "940623", Nationality: "UTO",
			PrimaryName: "ERIKSSON", SecondaryName: "ANNA MARIA", OptionalData1: "ZE184226B"},
	},
	{
		name: "TD1 Part 5 specimen",
		text: "I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<",
		want: MRZ{Format: TD1, DocumentCode: "I", IssuingState: "UTO", DocumentNumber: "D23145890",
			DateOfBirth: "740812", Sex: "F", DateOfExpiry: "120415", Nationality: "UTO",
			PrimaryName: "ERIKSSON", SecondaryName: "ANNA MARIA"},
	},
	{
		name: "TD1 long document number (Part 5 note j)",
		text: "I<UTOD23145890<7349<<<<<<<<<<<\n3407127M9507122UTO<<<<<<<<<<<2\nSTEVENSON<<PETER<JOHN<<<<<<<<<",
		want: MRZ{Format: TD1, DocumentCode: "I", IssuingState: "UTO", DocumentNumber: "D23145890734",
			DateOfBirth: "340712", Sex: "M", DateOfExpiry: "950712", Nationality: "UTO",
			PrimaryName: "STEVENSON", SecondaryName: "PETER JOHN"},
	},
	{
		name: "CCCD-shaped TD1",
		text: "IDVNM0990123459001099012345<<0\n9901018M3901016VNM<<<<<<<<<<<0\nNGUYEN<<VAN<AN<<<<<<<<<<<<<<<<",
		want: MRZ{Format: TD1, DocumentCode: "ID", IssuingState: "VNM", DocumentNumber: "099012345",
			DateOfBirth: "990101", Sex: "M", DateOfExpiry: "390101", Nationality: "VNM",
			PrimaryName: "NGUYEN", SecondaryName: "VAN AN", OptionalData1: "001099012345<<0"},
	},
}

func TestParseSpecimens(t *testing.T) {
	t.Parallel()
	for _, tc := range specimens {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			want.Lines = strings.Split(tc.text, "\n")
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("Parse =\n%+v\nwant\n%+v", *got, want)
			}
		})
	}
}

func TestParseTolerates(t *testing.T) {
	t.Parallel()
	td1 := specimens[2].text
	l := strings.Split(td1, "\n")
	for name, text := range map[string]string{
		"CRLF":                 strings.ReplaceAll(td1, "\n", "\r\n"),
		"surrounding space":    "  \n\t" + l[0] + "  \r\n  " + l[1] + "\n\n" + l[2] + "\n\n  ",
		"EF.DG1 concatenation": strings.Join(l, ""),
	} {
		m, err := Parse(text)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(m.Lines, l) {
			t.Errorf("%s: lines %q", name, m.Lines)
		}
	}
	td3 := strings.ReplaceAll(specimens[0].text, "\n", "")
	if m, err := Parse(td3); err != nil || m.Format != TD3 {
		t.Errorf("TD3 concatenation: %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	td1 := strings.Split(specimens[2].text, "\n")
	td3 := strings.Split(specimens[1].text, "\n")
	long := strings.Split(specimens[3].text, "\n")
	cccd := strings.Split(specimens[4].text, "\n")
	set := func(line string, i int, c byte) string { return line[:i] + string(c) + line[i+1:] }
	j := func(l ...string) string { return strings.Join(l, "\n") }
	for _, tc := range []struct {
		name  string
		text  string
		field string // check digit expected to fail, or "" for other errors
	}{
		{"TD1 document number", j(set(td1[0], 14, '8'), td1[1], td1[2]), "document number"},
		{"TD1 date of birth", j(td1[0], set(td1[1], 6, '3'), td1[2]), "date of birth"},
		{"TD1 date of expiry", j(td1[0], set(td1[1], 14, '0'), td1[2]), "date of expiry"},
		{"TD1 composite", j(td1[0], set(td1[1], 29, '7'), td1[2]), "composite"},
		// 'B' (11), not 'A' (10): a change by a multiple of 10 is invisible to the 7-3-1 check digit.
		{"TD1 optional data changed", j(set(td1[0], 20, 'B'), td1[1], td1[2]), "composite"},
		{"TD1 long number check digit", j(set(long[0], 18, '8'), long[1], long[2]), "document number"},
		{"CCCD ID digit changed", j(set(cccd[0], 20, '8'), cccd[1], cccd[2]), "composite"},
		{"TD3 document number", j(td3[0], set(td3[1], 9, '4')), "document number"},
		{"TD3 date of birth", j(td3[0], set(td3[1], 19, '2')), "date of birth"},
		{"TD3 date of expiry", j(td3[0], set(td3[1], 27, '7')), "date of expiry"},
		{"TD3 personal number", j(td3[0], set(td3[1], 42, '2')), "personal number"},
		{"TD3 composite", j(td3[0], set(td3[1], 43, '5')), "composite"},
		{"check digit is a filler", j(set(td1[0], 14, '<'), td1[1], td1[2]), ""},
		{"lowercase", strings.ToLower(specimens[2].text), ""},
		{"space inside a line", j(set(td1[0], 16, ' '), td1[1], td1[2]), ""},
		{"non-ASCII", j(td1[0][:29]+"É", td1[1], td1[2]), ""},
		{"short line", j(td1[0], td1[1][:29], td1[2]), ""},
		{"two TD1 lines", j(td1[0], td1[1]), ""},
		{"TD2", "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nD231458907UTO7408122F1204159<<<<<<<6", ""},
		{"empty", " \n ", ""},
		{"sex", j(td1[0], set(td1[1], 7, 'Q'), td1[2]), ""},
		{"date letters", j(td1[0], set(td1[1], 2, 'A'), td1[2]), ""},
		{"document code digit", j(set(td1[0], 0, '1'), td1[1], td1[2]), ""},
		{"issuing state digit", j(set(td1[0], 3, '1'), td1[1], td1[2]), ""},
		{"empty document number", j("I<UTO<<<<<<<<<0<<<<<<<<<<<<<<<", td1[1], td1[2]), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := Parse(tc.text)
			if err == nil {
				t.Fatalf("accepted: %+v", m)
			}
			var ce *CheckDigitError
			switch {
			case tc.field != "" && (!errors.As(err, &ce) || ce.Field != tc.field):
				t.Errorf("err = %v, want %s check digit error", err, tc.field)
			case tc.field != "" && !errors.Is(err, ErrCheckDigit):
				t.Errorf("errors.Is(%v, ErrCheckDigit) = false", err)
			case tc.field != "" && !strings.Contains(err.Error(), tc.field):
				t.Errorf("error %q does not name the %s", err, tc.field)
			}
			if strings.Contains(err.Error(), "D23145890") || strings.Contains(err.Error(), "ERIKSSON") {
				t.Errorf("error %q leaks MRZ data", err)
			}
		})
	}
}

func TestKeyInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		doc, dob, exp string
		want          string
	}{
		{"L898902C<", "690806", "940623", "L898902C<369080619406236"}, // Part 11 D.1
		{"L898902C", "690806", "940623", "L898902C<369080619406236"},  // filler added
		{"D23145890734", "340712", "950712", "D23145890734934071279507122"},
		{"099012345", "990101", "390101", "099012345999010183901016"},
	} {
		got, err := KeyInput(tc.doc, tc.dob, tc.exp)
		if err != nil || got != tc.want {
			t.Errorf("KeyInput(%q, %q, %q) = %q, %v; want %q", tc.doc, tc.dob, tc.exp, got, err, tc.want)
		}
	}
	for _, bad := range [][3]string{
		{"", "690806", "940623"},
		{"<<<", "690806", "940623"},
		{"l898902c", "690806", "940623"},
		{"L898902C", "69086", "940623"},
		{"L898902C", "690806", "9406233"},
		{"L898902C", "6908<6", "940623"},
		{"L898902C", "690806", "94O623"},
	} {
		if got, err := KeyInput(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("KeyInput(%q) = %q, accepted", bad, got)
		}
	}
	m, err := Parse(specimens[1].text)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := m.KeyInput(); err != nil || got != "L898902C<369080619406236" {
		t.Errorf("MRZ.KeyInput = %q, %v", got, err)
	}
}

func TestCCCD(t *testing.T) {
	t.Parallel()
	doc, opt, err := CCCDFields("001099012345")
	if err != nil || doc != "099012345" || opt != "001099012345<<0" {
		t.Fatalf("CCCDFields = %q, %q, %v", doc, opt, err)
	}
	m, err := Parse(specimens[4].text)
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := m.IDNumber(); !ok || id != "001099012345" {
		t.Errorf("IDNumber = %q, %v", id, ok)
	}
	// The same card built by EncodeTD1 from a profile.
	lines, err := EncodeTD1(MRZ{DocumentCode: "ID", IssuingState: "VNM", DocumentNumber: doc, OptionalData1: opt,
		DateOfBirth: "990101", Sex: "M", DateOfExpiry: "390101", Nationality: "VNM", PrimaryName: "NGUYEN", SecondaryName: "VAN AN"})
	if err != nil || strings.Join(lines, "\n") != specimens[4].text {
		t.Errorf("EncodeTD1 = %q, %v", lines, err)
	}
	for _, tc := range []struct {
		name string
		m    MRZ
	}{
		{"not VNM", MRZ{Format: TD1, IssuingState: "UTO", DocumentNumber: "099012345", OptionalData1: "001099012345<<0"}},
		{"TD3", MRZ{Format: TD3, IssuingState: "VNM", DocumentNumber: "099012345", OptionalData1: "001099012345<<0"}},
		{"ID check digit wrong", MRZ{Format: TD1, IssuingState: "VNM", DocumentNumber: "099012345", OptionalData1: "001099012345<<1"}},
		{"document number differs", MRZ{Format: TD1, IssuingState: "VNM", DocumentNumber: "099012346", OptionalData1: "001099012345<<0"}},
		{"no optional data", MRZ{Format: TD1, IssuingState: "VNM", DocumentNumber: "099012345"}},
		{"letters", MRZ{Format: TD1, IssuingState: "VNM", DocumentNumber: "099012345", OptionalData1: "00109901234A<<0"}},
	} {
		if id, ok := tc.m.IDNumber(); ok {
			t.Errorf("%s: IDNumber = %q", tc.name, id)
		}
	}
	for _, bad := range []string{"", "00109901234", "0010990123456", "00109901234A"} {
		if _, _, err := CCCDFields(bad); err == nil {
			t.Errorf("CCCDFields(%q) accepted", bad)
		}
	}
}

func TestEncodeTD1(t *testing.T) {
	t.Parallel()
	// Every TD1 specimen round-trips through EncodeTD1.
	for _, tc := range specimens {
		if tc.want.Format != TD1 {
			continue
		}
		lines, err := EncodeTD1(tc.want)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := strings.Join(lines, "\n"); got != tc.text {
			t.Errorf("%s: EncodeTD1 =\n%s\nwant\n%s", tc.name, got, tc.text)
		}
	}
	base := specimens[2].want
	// A long name is truncated to the field.
	long := base
	long.PrimaryName, long.SecondaryName = "NGUYEN THI", "PHUONG THANH HUONG GIANG"
	lines, err := EncodeTD1(long)
	if err != nil || lines[2] != "NGUYEN<THI<<PHUONG<THANH<HUONG" {
		t.Errorf("long name: %q, %v", lines, err)
	}
	// The longest document number that fits, and one longer.
	maxDoc := base
	maxDoc.DocumentNumber = "ABCDEFGHIJKLMNOPQRSTUVW"
	if lines, err := EncodeTD1(maxDoc); err != nil {
		t.Errorf("23-character document number: %v", err)
	} else if m, err := Parse(strings.Join(lines, "\n")); err != nil || m.DocumentNumber != maxDoc.DocumentNumber {
		t.Errorf("23-character document number read back as %+v, %v", m, err)
	}
	for _, tc := range []struct {
		name string
		edit func(*MRZ)
	}{
		{"document number too long", func(m *MRZ) { m.DocumentNumber = "ABCDEFGHIJKLMNOPQRSTUVWX" }},
		{"overflow and optional data too long", func(m *MRZ) { m.DocumentNumber = "D23145890734"; m.OptionalData1 = "ABCDEFGHIJK" }},
		{"filler in overflow", func(m *MRZ) { m.DocumentNumber = "D23145890<34" }},
		{"document number ends in filler", func(m *MRZ) { m.DocumentNumber = "D2314<" }},
		{"empty document number", func(m *MRZ) { m.DocumentNumber = "" }},
		{"lowercase document number", func(m *MRZ) { m.DocumentNumber = "d23145890" }},
		{"no document code", func(m *MRZ) { m.DocumentCode = "" }},
		{"document code too long", func(m *MRZ) { m.DocumentCode = "IDX" }},
		{"issuing state too long", func(m *MRZ) { m.IssuingState = "UTOP" }},
		{"nationality digit", func(m *MRZ) { m.Nationality = "U1O" }},
		{"date of birth", func(m *MRZ) { m.DateOfBirth = "7408" }},
		{"date of expiry", func(m *MRZ) { m.DateOfExpiry = "12-415" }},
		{"sex", func(m *MRZ) { m.Sex = "male" }},
		{"optional data 1 too long", func(m *MRZ) { m.OptionalData1 = "ABCDEFGHIJKLMNOP" }},
		{"optional data 2 too long", func(m *MRZ) { m.OptionalData2 = "ABCDEFGHIJKL" }},
		{"optional data ends in filler", func(m *MRZ) { m.OptionalData2 = "AB<" }},
		{"name not transliterated", func(m *MRZ) { m.PrimaryName = "NGUYỄN" }},
		{"primary name double space", func(m *MRZ) { m.PrimaryName = "VAN  DER" }},
		{"name with hyphen", func(m *MRZ) { m.SecondaryName = "ANNA-MARIA" }},
	} {
		m := base
		tc.edit(&m)
		if lines, err := EncodeTD1(m); err == nil {
			t.Errorf("%s: accepted: %q", tc.name, lines)
		}
	}
}
