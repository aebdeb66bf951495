package virtualcard

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/devices/idcard/lds"
	"github.com/vnkiosk/kiosk/devices/idcard/mrz"
)

// The built-in sample citizens: one JSON profile per citizen (photo null) and a
// JPEG face of the same name, drawn by TestSampleFaces. Every name and number is
// fictional: real province codes, obviously made-up sequences (…012345) and
// addresses in streets called "Ví Dụ" and "Mẫu" ("example", "sample").
//
//go:embed profiles/*.json profiles/*.jpg
var profileFiles embed.FS

// DefaultSample is the sample citizen used when no profile is given: a ward
// citizen with every DG13 field, old ID and spouse included.
const DefaultSample = "nguyen-van-an"

// SampleNames returns the names of the built-in sample citizens, sorted:
// "le-van-thanh" (born 1948, card without expiry, old ID, no spouse),
// "nguyen-thi-hoa" (a nurse: the demo hospital's staff member), "nguyen-van-an"
// (every field) and "tran-thi-mai" (born 2007, no old ID, no spouse).
func SampleNames() []string {
	entries, err := fs.Glob(profileFiles, "profiles/*.json")
	if err != nil {
		panic(err) // the pattern is constant
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = strings.TrimSuffix(path.Base(e), ".json")
	}
	slices.Sort(names)
	return names
}

// Sample returns the built-in sample citizen name, completed as Complete does, so
// that a read of a card made from it gives back exactly this Document.
func Sample(name string) (*idcard.Document, error) {
	b, err := profileFiles.ReadFile("profiles/" + name + ".json")
	if err != nil {
		return nil, fmt.Errorf("virtualcard: no sample citizen %q (have %s)", name, strings.Join(SampleNames(), ", "))
	}
	var d idcard.Document
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("virtualcard: sample %s: %w", name, err)
	}
	if d.Photo == nil {
		img, err := profileFiles.ReadFile("profiles/" + name + ".jpg")
		if err != nil {
			return nil, fmt.Errorf("virtualcard: sample %s: %w", name, err)
		}
		d.Photo = &idcard.Photo{MIME: lds.MIMEJPEG, Data: img}
	}
	return Complete(&d)
}

// Samples returns every built-in sample citizen, in SampleNames order.
func Samples() []*idcard.Document {
	var out []*idcard.Document
	for _, n := range SampleNames() {
		d, err := Sample(n)
		if err != nil {
			panic(err) // embedded data, checked by the package's tests
		}
		out = append(out, d)
	}
	return out
}

// Complete returns a copy of profile as a read of the card made from it gives it
// back: document_number (the last 9 digits of the ID number) and mrz (a TD1
// built from the fields) filled in when absent, and empty parent or spouse names
// turned into null, which is how DG13 carries them. It fails on a profile the card
// cannot carry: no 12-digit id_number, no full name, dates that are not
// YYYY-MM-DD (YYYY-MM or YYYY for an unknown day or month), an expiry that is
// neither a date nor "Không thời hạn", an MRZ that does not parse, or a photo
// that is not a JPEG.
func Complete(profile *idcard.Document) (*idcard.Document, error) {
	if profile == nil {
		return nil, errors.New("virtualcard: no profile")
	}
	d := *profile
	d.Verification, d.Stats = nil, nil
	if d.Photo != nil {
		d.Photo = &idcard.Photo{MIME: d.Photo.MIME, Data: slices.Clone(d.Photo.Data)}
		if lds.DetectImageMIME(d.Photo.Data) != lds.MIMEJPEG {
			return nil, errors.New("virtualcard: profile photo is not a JPEG")
		}
		d.Photo.MIME = lds.MIMEJPEG
	}
	for _, p := range []**string{&d.FatherName, &d.MotherName, &d.SpouseName} {
		if *p != nil && **p == "" {
			*p = nil
		}
	}
	if d.IDNumber == nil {
		return nil, errors.New("virtualcard: profile has no id_number")
	}
	doc9, _, err := mrz.CCCDFields(*d.IDNumber)
	if err != nil {
		return nil, fmt.Errorf("virtualcard: profile id_number: %w", err)
	}
	if d.FullName == nil || strings.TrimSpace(*d.FullName) == "" {
		return nil, errors.New("virtualcard: profile has no full_name")
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"date_of_birth", d.DateOfBirth}, {"date_of_issue", d.DateOfIssue}} {
		if f.v != nil {
			if _, err := parseDate(*f.v); err != nil {
				return nil, fmt.Errorf("virtualcard: profile %s: %w", f.name, err)
			}
		}
	}
	if d.DateOfExpiry != nil && *d.DateOfExpiry != idcard.NoExpiry {
		if _, err := parseDate(*d.DateOfExpiry); err != nil {
			return nil, fmt.Errorf("virtualcard: profile date_of_expiry: %w (or %q)", err, idcard.NoExpiry)
		}
	}

	if len(d.MRZ) == 0 {
		if d.DocumentNumber == nil {
			d.DocumentNumber = &doc9
		}
		lines, err := buildMRZ(&d)
		if err != nil {
			return nil, err
		}
		d.MRZ = lines
	}
	m, err := mrz.Parse(strings.Join(d.MRZ, "\n"))
	if err != nil {
		return nil, fmt.Errorf("virtualcard: profile mrz: %w", err)
	}
	if m.Format != mrz.TD1 {
		return nil, errors.New("virtualcard: profile mrz is not a TD1 (ID card) zone")
	}
	if d.DocumentNumber != nil && *d.DocumentNumber != m.DocumentNumber {
		return nil, errors.New("virtualcard: profile document_number differs from the one in its mrz")
	}
	d.MRZ = slices.Clone(m.Lines)
	d.DocumentNumber = &m.DocumentNumber
	return &d, nil
}

// buildMRZ makes the TD1 zone of a Vietnamese chip ID card from the profile's
// fields: IDVNM, the document number, the full ID number with its check digit in
// optional data 1, dates as YYMMDD (991231 for a card without expiry) and the name
// without diacritics, family name first.
func buildMRZ(d *idcard.Document) ([]string, error) {
	_, opt1, err := mrz.CCCDFields(*d.IDNumber)
	if err != nil {
		return nil, fmt.Errorf("virtualcard: profile id_number: %w", err)
	}
	if d.DateOfBirth == nil || d.DateOfExpiry == nil {
		return nil, errors.New("virtualcard: profile needs date_of_birth and date_of_expiry (or an mrz) for the MRZ")
	}
	dob, err := mrzDate(*d.DateOfBirth)
	if err != nil {
		return nil, fmt.Errorf("virtualcard: profile date_of_birth: %w", err)
	}
	exp := "991231" // lifetime cards (DOMAIN.md)
	if *d.DateOfExpiry != idcard.NoExpiry {
		if exp, err = mrzDate(*d.DateOfExpiry); err != nil {
			return nil, fmt.Errorf("virtualcard: profile date_of_expiry: %w", err)
		}
	}
	sex := ""
	if d.Sex != nil {
		switch *d.Sex {
		case "Nam":
			sex = "M"
		case "Nữ":
			sex = "F"
		}
	}
	words := strings.Fields(Transliterate(*d.FullName))
	if len(words) == 0 {
		return nil, errors.New("virtualcard: profile full_name has no letters the MRZ can carry")
	}
	lines, err := mrz.EncodeTD1(mrz.MRZ{
		DocumentCode:   "ID",
		IssuingState:   "VNM",
		DocumentNumber: *d.DocumentNumber,
		OptionalData1:  opt1,
		DateOfBirth:    dob,
		Sex:            sex,
		DateOfExpiry:   exp,
		Nationality:    "VNM",
		PrimaryName:    words[0],
		SecondaryName:  strings.Join(words[1:], " "),
	})
	if err != nil {
		return nil, fmt.Errorf("virtualcard: build the MRZ: %w", err)
	}
	return lines, nil
}

// Transliterate writes Vietnamese text in the MRZ character set (ICAO 9303 Part 3
// §6): diacritics dropped, Đ as D, upper case, anything else that is not a letter
// or digit as a space.
func Transliterate(s string) string {
	var b strings.Builder
	for _, r := range s {
		if base, ok := vietBase[r]; ok {
			r = base
		}
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// vietBase maps every Vietnamese letter with diacritics to its base letter.
var vietBase = func() map[rune]rune {
	groups := map[rune]string{
		'a': "àáảãạăằắẳẵặâầấẩẫậ", 'A': "ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬ",
		'e': "èéẻẽẹêềếểễệ", 'E': "ÈÉẺẼẸÊỀẾỂỄỆ",
		'i': "ìíỉĩị", 'I': "ÌÍỈĨỊ",
		'o': "òóỏõọôồốổỗộơờớởỡợ", 'O': "ÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢ",
		'u': "ùúủũụưừứửữự", 'U': "ÙÚỦŨỤƯỪỨỬỮỰ",
		'y': "ỳýỷỹỵ", 'Y': "ỲÝỶỸỴ",
		'd': "đ", 'D': "Đ",
	}
	m := map[rune]rune{}
	for base, letters := range groups {
		for _, r := range letters {
			m[r] = base
		}
	}
	return m
}()

// parseDate reads a profile date: YYYY-MM-DD, or YYYY-MM / YYYY when the day or
// month is unknown, as Document writes them.
func parseDate(s string) (lds.Date, error) {
	parts := strings.Split(s, "-")
	if len(parts) > 3 || len(parts[0]) != 4 {
		return lds.Date{}, fmt.Errorf("%q is not YYYY-MM-DD", s)
	}
	var n [3]int
	for i, p := range parts {
		if (i > 0 && len(p) != 2) || strings.Trim(p, "0123456789") != "" {
			return lds.Date{}, fmt.Errorf("%q is not YYYY-MM-DD", s)
		}
		n[i], _ = strconv.Atoi(p)
	}
	d := lds.Date{Year: n[0], Month: time.Month(n[1]), Day: n[2]}
	ok := d.Year > 0 && d.Month >= 0 && d.Month <= 12 && (len(parts) < 2 || d.Month > 0) && (len(parts) < 3 || d.Day > 0)
	if ok && d.Day > 0 {
		t := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
		ok = t.Day() == d.Day && t.Month() == d.Month
	}
	if !ok {
		return lds.Date{}, fmt.Errorf("%q is not a calendar date", s)
	}
	return d, nil
}

// mrzDate writes a profile date as YYMMDD, with '<' for an unknown month or day.
func mrzDate(s string) (string, error) {
	d, err := parseDate(s)
	if err != nil {
		return "", err
	}
	out := fmt.Sprintf("%02d", d.Year%100)
	for _, v := range []int{int(d.Month), d.Day} {
		if v == 0 {
			out += "<<"
		} else {
			out += fmt.Sprintf("%02d", v)
		}
	}
	return out, nil
}

// dg13 turns a completed profile into the Vietnamese data group.
func dg13(d *idcard.Document) (*lds.DG13, error) {
	g := &lds.DG13{
		IDNumber: d.IDNumber, FullName: d.FullName, Sex: d.Sex, Nationality: d.Nationality,
		Ethnicity: d.Ethnicity, Religion: d.Religion, PlaceOfOrigin: d.PlaceOfOrigin,
		PlaceOfResidence: d.PlaceOfResidence, IdentifyingFeatures: d.IdentifyingFeatures,
		Spouse: d.SpouseName, OldIDNumber: d.OldIDNumber,
	}
	for _, f := range []struct {
		src *string
		dst **lds.Date
	}{{d.DateOfBirth, &g.DateOfBirth}, {d.DateOfIssue, &g.DateOfIssue}} {
		if f.src == nil {
			continue
		}
		dt, err := parseDate(*f.src)
		if err != nil {
			return nil, err
		}
		*f.dst = &dt
	}
	if d.DateOfExpiry != nil {
		if *d.DateOfExpiry == idcard.NoExpiry {
			g.DateOfExpiry = &lds.Expiry{None: true}
		} else {
			dt, err := parseDate(*d.DateOfExpiry)
			if err != nil {
				return nil, err
			}
			g.DateOfExpiry = &lds.Expiry{Date: dt}
		}
	}
	if d.FatherName != nil || d.MotherName != nil {
		g.Parents = &lds.Parents{Father: d.FatherName, Mother: d.MotherName}
	}
	return g, nil
}
