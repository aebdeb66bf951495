package lds

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vnkiosk/kiosk/devices/idcard/tlv"
)

// DG13 is the Vietnamese chip ID card's own data group, "optional details" in ICAO
// terms (Part 10 leaves its content to the issuer). Its layout is
//
//	6D { 30 { 02 01 01, 06 06 28D316010008, 31 { 30 { 02 01 NN, value }... } } }
//
// and fields are identified by their number NN, never by position, because
// issuers leave some out. A nil field was absent from the card; a non-nil empty
// string was present and empty.
type DG13 struct {
	IDNumber            *string  // 1: the 12-digit personal identification number
	FullName            *string  // 2
	DateOfBirth         *Date    // 3
	Sex                 *string  // 4: "Nam" or "Nữ" as the card writes it
	Nationality         *string  // 5
	Ethnicity           *string  // 6
	Religion            *string  // 7
	PlaceOfOrigin       *string  // 8: quê quán
	PlaceOfResidence    *string  // 9: nơi thường trú
	IdentifyingFeatures *string  // 10: đặc điểm nhận dạng
	DateOfIssue         *Date    // 11
	DateOfExpiry        *Expiry  // 12
	Parents             *Parents // 13
	Spouse              *string  // 14: nil when the field is absent or holds no name
	OldIDNumber         *string  // 15: the 9-digit CMND number, when there was one
	// Other holds field 16 (meaning unknown) and any field number this package does
	// not know, each as the DER of the values after the field number, verbatim, so
	// the encoder can reproduce them.
	Other map[int][]byte
}

// Parents is field 13: the father's and mother's names, each nil when the card
// leaves it empty.
type Parents struct {
	Father, Mother *string
}

// Expiry is field 12: a date, or none for cards that never expire.
type Expiry struct {
	None bool // "Không thời hạn": the card has no expiry date
	Date Date // valid when !None
}

// noExpiryText is how the card writes "no expiry".
const noExpiryText = "Không thời hạn"

// Date is a calendar date as the card writes it, dd/MM/yyyy. Day and Month are 0
// when the card does not know them (written 00), which happens for people whose
// papers only ever recorded a year of birth.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// String returns the ISO 8601 form: YYYY-MM-DD, or YYYY-MM or YYYY when the day or
// month is unknown.
func (d Date) String() string {
	switch {
	case d.Month == 0:
		return fmt.Sprintf("%04d", d.Year)
	case d.Day == 0:
		return fmt.Sprintf("%04d-%02d", d.Year, int(d.Month))
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// cardText returns the date as the card writes it.
func (d Date) cardText() string {
	return fmt.Sprintf("%02d/%02d/%04d", d.Day, int(d.Month), d.Year)
}

func (d Date) valid() bool {
	if d.Year < 1 || d.Year > 9999 || d.Month < 0 || d.Month > 12 || d.Day < 0 {
		return false
	}
	if d.Month == 0 {
		return d.Day == 0
	}
	if d.Day == 0 {
		return true
	}
	// time.Date normalises 31/02 to March: a real date survives unchanged.
	t := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
	return t.Day() == d.Day && t.Month() == d.Month
}

// ParseDate parses a card date: dd/MM/yyyy (00 for an unknown day or month) or a
// bare yyyy.
func ParseDate(s string) (Date, error) {
	var d Date
	var err error
	switch {
	case len(s) == 4:
		d.Year, err = atoiDigits(s)
	case len(s) == 10 && s[2] == '/' && s[5] == '/':
		var day, month int
		day, err = atoiDigits(s[0:2])
		if err == nil {
			month, err = atoiDigits(s[3:5])
		}
		if err == nil {
			d.Year, err = atoiDigits(s[6:10])
		}
		d.Day, d.Month = day, time.Month(month)
	default:
		err = errors.New("not dd/MM/yyyy")
	}
	if err != nil || !d.valid() {
		return Date{}, errors.New("lds: invalid date")
	}
	return d, nil
}

func atoiDigits(s string) (int, error) {
	if !isDigits([]byte(s), len(s)) {
		return 0, errors.New("not digits")
	}
	return strconv.Atoi(s)
}

// DG13 field numbers.
const (
	fieldIDNumber = iota + 1
	fieldFullName
	fieldDateOfBirth
	fieldSex
	fieldNationality
	fieldEthnicity
	fieldReligion
	fieldPlaceOfOrigin
	fieldPlaceOfResidence
	fieldIdentifyingFeatures
	fieldDateOfIssue
	fieldDateOfExpiry
	fieldParents
	fieldSpouse
	fieldOldIDNumber
	lastKnownField = fieldOldIDNumber
)

// ASN.1 universal tags DG13 uses.
const (
	tagInteger         tlv.Tag = 0x02
	tagOID             tlv.Tag = 0x06
	tagUTF8String      tlv.Tag = 0x0C
	tagPrintableString tlv.Tag = 0x13
	tagSequence        tlv.Tag = 0x30
	tagSet             tlv.Tag = 0x31
)

// dg13OID is the object identifier heading DG13 (1.0.10646.1.0.8, ISO/IEC 10646
// UTF-8), as every card observed carries it.
var dg13OID = []byte{0x28, 0xD3, 0x16, 0x01, 0x00, 0x08}

// ParseDG13 parses the whole DG13 file.
func ParseDG13(b []byte) (*DG13, error) {
	d, err := parseDG13(b)
	if err != nil {
		return nil, fmt.Errorf("lds: parse EF.DG13: %w", err)
	}
	return d, nil
}

func parseDG13(b []byte) (*DG13, error) {
	v, err := tlv.Unwrap(b, TagDG13)
	if err != nil {
		return nil, err
	}
	seq, err := tlv.Unwrap(v, tagSequence)
	if err != nil {
		return nil, err
	}
	objs, err := tlv.ParseAll(seq)
	if err != nil {
		return nil, err
	}
	if len(objs) != 3 || objs[0].Tag != tagInteger || objs[1].Tag != tagOID || objs[2].Tag != tagSet {
		return nil, errors.New("want SEQUENCE { INTEGER, OBJECT IDENTIFIER, SET }")
	}
	if version, err := parseSmallInt(objs[0].Value); err != nil || version != 1 {
		return nil, errors.New("version is not 1")
	}
	if !bytes.Equal(objs[1].Value, dg13OID) {
		return nil, errors.New("unexpected object identifier")
	}
	fields, err := tlv.ParseAll(objs[2].Value)
	if err != nil {
		return nil, err
	}
	d := &DG13{}
	seen := map[int]bool{}
	for i, f := range fields {
		if f.Tag != tagSequence {
			return nil, fmt.Errorf("element %d: tag %s, want SEQUENCE", i+1, f.Tag)
		}
		parts, err := tlv.ParseAll(f.Value)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i+1, err)
		}
		if len(parts) == 0 || parts[0].Tag != tagInteger {
			return nil, fmt.Errorf("element %d: does not start with a field number", i+1)
		}
		nn, err := parseSmallInt(parts[0].Value)
		if err != nil {
			return nil, fmt.Errorf("element %d: field number: %w", i+1, err)
		}
		if seen[nn] {
			return nil, fmt.Errorf("field %d repeated", nn)
		}
		seen[nn] = true
		// The values are the bytes after the field number, kept whole for Other.
		_, _, h, _ := tlv.ParseHeader(f.Value) // cannot fail: parts[0] decoded
		raw := f.Value[h+len(parts[0].Value):]
		if err := d.setField(nn, parts[1:], raw); err != nil {
			return nil, fmt.Errorf("field %d: %w", nn, err)
		}
	}
	return d, nil
}

// setField stores the values of field nn.
func (d *DG13) setField(nn int, values []tlv.Object, raw []byte) error {
	if nn < 1 || nn > lastKnownField {
		if d.Other == nil {
			d.Other = map[int][]byte{}
		}
		d.Other[nn] = bytes.Clone(raw)
		return nil
	}
	switch nn {
	case fieldParents:
		names, err := nameList(values, 2)
		if err != nil {
			return err
		}
		d.Parents = &Parents{Father: names[0], Mother: names[1]}
		return nil
	case fieldSpouse:
		names, err := nameList(values, 1)
		if err != nil {
			return err
		}
		d.Spouse = names[0]
		return nil
	}
	if len(values) == 0 {
		return nil // a field number with no value says nothing
	}
	if len(values) > 1 {
		return fmt.Errorf("%d values, want 1", len(values))
	}
	s, err := decodeString(values[0])
	if err != nil {
		return err
	}
	switch nn {
	case fieldDateOfBirth, fieldDateOfIssue:
		dt, err := ParseDate(s)
		if err != nil {
			return err
		}
		if nn == fieldDateOfBirth {
			d.DateOfBirth = &dt
		} else {
			d.DateOfIssue = &dt
		}
	case fieldDateOfExpiry:
		if isNoExpiry(s) {
			d.DateOfExpiry = &Expiry{None: true}
			return nil
		}
		dt, err := ParseDate(s)
		if err != nil {
			return err
		}
		d.DateOfExpiry = &Expiry{Date: dt}
	default:
		*d.stringField(nn) = &s
	}
	return nil
}

// stringField returns the struct field of a plain text field number.
func (d *DG13) stringField(nn int) **string {
	switch nn {
	case fieldIDNumber:
		return &d.IDNumber
	case fieldFullName:
		return &d.FullName
	case fieldSex:
		return &d.Sex
	case fieldNationality:
		return &d.Nationality
	case fieldEthnicity:
		return &d.Ethnicity
	case fieldReligion:
		return &d.Religion
	case fieldPlaceOfOrigin:
		return &d.PlaceOfOrigin
	case fieldPlaceOfResidence:
		return &d.PlaceOfResidence
	case fieldIdentifyingFeatures:
		return &d.IdentifyingFeatures
	case fieldOldIDNumber:
		return &d.OldIDNumber
	}
	return nil
}

// nameList decodes fields 13 and 14: a SEQUENCE of up to max names, by position,
// where an empty string means no name. Names placed directly after the field
// number, without the SEQUENCE, are accepted too.
func nameList(values []tlv.Object, max int) ([]*string, error) {
	if len(values) == 1 && values[0].Tag == tagSequence {
		var err error
		if values, err = tlv.ParseAll(values[0].Value); err != nil {
			return nil, err
		}
	}
	if len(values) > max {
		return nil, fmt.Errorf("%d names, want at most %d", len(values), max)
	}
	out := make([]*string, max)
	for i, v := range values {
		s, err := decodeString(v)
		if err != nil {
			return nil, err
		}
		if s != "" {
			out[i] = &s
		}
	}
	return out, nil
}

func isNoExpiry(s string) bool {
	s = strings.TrimSpace(s)
	return strings.EqualFold(s, noExpiryText) || strings.EqualFold(s, "Khong thoi han")
}

// decodeString decodes a UTF8String or a PrintableString. The text is not quoted in
// errors: it is personal data.
func decodeString(o tlv.Object) (string, error) {
	switch o.Tag {
	case tagUTF8String:
		if !utf8.Valid(o.Value) {
			return "", errors.New("UTF8String is not valid UTF-8")
		}
	case tagPrintableString:
		for _, c := range o.Value {
			if c < 0x20 || c > 0x7E {
				return "", errors.New("PrintableString holds a non-printable byte")
			}
		}
	default:
		return "", fmt.Errorf("value tag %s is not UTF8String or PrintableString", o.Tag)
	}
	return string(o.Value), nil
}

// parseSmallInt decodes a DER INTEGER that must be non-negative and fit in two
// bytes, which covers every version and field number.
func parseSmallInt(b []byte) (int, error) {
	switch {
	case len(b) == 0 || len(b) > 3:
		return 0, errors.New("INTEGER of unexpected length")
	case b[0]&0x80 != 0:
		return 0, errors.New("negative INTEGER")
	case len(b) > 1 && b[0] == 0 && b[1]&0x80 == 0:
		return 0, errors.New("INTEGER not minimally encoded")
	}
	n := 0
	for _, c := range b {
		n = n<<8 | int(c)
	}
	if n > 0xFFFF {
		return 0, errors.New("INTEGER too large")
	}
	return n, nil
}

func encodeSmallInt(n int) []byte {
	switch {
	case n < 0x80:
		return []byte{byte(n)}
	case n < 0x8000:
		return []byte{byte(n >> 8), byte(n)}
	default:
		return []byte{0, byte(n >> 8), byte(n)}
	}
}

// EncodeDG13 encodes d as a whole DG13 file with the layout real cards use: fields
// in ascending number, text as UTF8String, dates as dd/MM/yyyy.
func EncodeDG13(d *DG13) ([]byte, error) {
	fields, err := d.encodeFields()
	if err != nil {
		return nil, fmt.Errorf("lds: encode EF.DG13: %w", err)
	}
	var set []byte
	for _, nn := range slices.Sorted(maps.Keys(fields)) {
		set = append(set, tlv.Encode(tagSequence, tlv.Encode(tagInteger, encodeSmallInt(nn)), fields[nn])...)
	}
	return tlv.Encode(TagDG13, tlv.Encode(tagSequence,
		tlv.Encode(tagInteger, []byte{1}),
		tlv.Encode(tagOID, dg13OID),
		tlv.Encode(tagSet, set),
	)), nil
}

// encodeFields returns the encoded values of every present field by number.
func (d *DG13) encodeFields() (map[int][]byte, error) {
	out := map[int][]byte{}
	for nn := fieldIDNumber; nn <= lastKnownField; nn++ {
		p := d.stringField(nn)
		if p == nil || *p == nil {
			continue
		}
		v, err := encodeString(**p)
		if err != nil {
			return nil, fmt.Errorf("field %d: %w", nn, err)
		}
		out[nn] = v
	}
	for nn, dt := range map[int]*Date{fieldDateOfBirth: d.DateOfBirth, fieldDateOfIssue: d.DateOfIssue} {
		if dt == nil {
			continue
		}
		if !dt.valid() {
			return nil, fmt.Errorf("field %d: invalid date", nn)
		}
		out[nn] = tlv.Encode(tagUTF8String, []byte(dt.cardText()))
	}
	if e := d.DateOfExpiry; e != nil {
		switch {
		case e.None:
			out[fieldDateOfExpiry] = tlv.Encode(tagUTF8String, []byte(noExpiryText))
		case e.Date.valid():
			out[fieldDateOfExpiry] = tlv.Encode(tagUTF8String, []byte(e.Date.cardText()))
		default:
			return nil, fmt.Errorf("field %d: invalid date", fieldDateOfExpiry)
		}
	}
	if p := d.Parents; p != nil {
		v, err := encodeNames(p.Father, p.Mother)
		if err != nil {
			return nil, fmt.Errorf("field %d: %w", fieldParents, err)
		}
		out[fieldParents] = v
	}
	if d.Spouse != nil {
		v, err := encodeNames(d.Spouse)
		if err != nil {
			return nil, fmt.Errorf("field %d: %w", fieldSpouse, err)
		}
		out[fieldSpouse] = v
	}
	for nn, raw := range d.Other {
		if nn >= 1 && nn <= lastKnownField || nn < 0 || nn > 0xFFFF {
			return nil, fmt.Errorf("field %d in Other: only unknown field numbers are kept opaque", nn)
		}
		if _, err := tlv.ParseAll(raw); err != nil {
			return nil, fmt.Errorf("field %d: %w", nn, err)
		}
		out[nn] = raw
	}
	return out, nil
}

func encodeNames(names ...*string) ([]byte, error) {
	var body []byte
	for _, n := range names {
		s := ""
		if n != nil {
			s = *n
		}
		v, err := encodeString(s)
		if err != nil {
			return nil, err
		}
		body = append(body, v...)
	}
	return tlv.Encode(tagSequence, body), nil
}

func encodeString(s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("text is not valid UTF-8")
	}
	return tlv.Encode(tagUTF8String, []byte(s)), nil
}
