// Package mrz owns the machine readable zone of ICAO 9303: the check digit of
// Part 3 §4.9 (weights 7, 3, 1; '<' = 0, A-Z = 10-35), parsing and validating the
// TD1 (Part 5, three lines of 30) and TD3 (Part 4, two lines of 44) layouts,
// building a TD1 zone for the virtual card's EF.DG1, the BAC key input of Part 11
// §4.3 (document number, date of birth and date of expiry, each followed by its
// check digit), and the Vietnamese chip ID card's convention of carrying the full
// 12-digit ID number in TD1 optional data. Input must already be in the MRZ
// character set: lowercase letters are rejected, not folded, because text that is
// not upper case did not come from an MRZ reader or EF.DG1 and silently fixing it
// would hide a wrong source. Errors name the field that failed, never its value.
package mrz

import (
	"errors"
	"fmt"
	"strings"
)

// Format is the MRZ layout.
type Format int

// The supported layouts.
const (
	TD1 Format = iota + 1 // ID-1 card: 3 lines of 30 (Part 5)
	TD3                   // passport: 2 lines of 44 (Part 4)
)

func (f Format) String() string {
	switch f {
	case TD1:
		return "TD1"
	case TD3:
		return "TD3"
	}
	return "unknown"
}

// MRZ is a parsed machine readable zone. Fields are stripped of trailing fillers;
// names have '<' turned into spaces. Dates are YYMMDD as printed (the century is
// not in the MRZ).
type MRZ struct {
	Format         Format
	DocumentCode   string // "ID", "I", "P", ...
	IssuingState   string // ICAO 9303 Part 3 three-letter code, e.g. "VNM"
	DocumentNumber string // in full, including the part that overflows into optional data on TD1
	DateOfBirth    string // YYMMDD; '<' marks an unknown part
	Sex            string // "M", "F", "X", or "" when unspecified
	DateOfExpiry   string // YYMMDD
	Nationality    string
	PrimaryName    string
	SecondaryName  string
	OptionalData1  string // TD1 line 1 optional data (after any document number overflow); TD3 personal number
	OptionalData2  string // TD1 line 2 optional data; empty for TD3
	Lines          []string
}

// ErrCheckDigit is matched (errors.Is) by every *CheckDigitError.
var ErrCheckDigit = errors.New("mrz: check digit mismatch")

// CheckDigitError says which check digit of an MRZ failed.
type CheckDigitError struct {
	Field string // "document number", "date of birth", "date of expiry", "personal number" or "composite"
}

func (e *CheckDigitError) Error() string {
	return fmt.Sprintf("mrz: %s check digit does not match", e.Field)
}

// Is makes errors.Is(err, ErrCheckDigit) true.
func (e *CheckDigitError) Is(target error) bool { return target == ErrCheckDigit }

// charValue is the check-digit value of an MRZ character, or -1.
func charValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	case c == '<':
		return 0
	}
	return -1
}

// CheckDigit computes the ICAO 9303 Part 3 §4.9 check digit of s: the sum of the
// character values weighted 7, 3, 1 repeating, modulo 10.
func CheckDigit(s string) (int, error) {
	sum := 0
	for i := 0; i < len(s); i++ {
		v := charValue(s[i])
		if v < 0 {
			return 0, fmt.Errorf("mrz: character %d is not in the MRZ character set", i+1)
		}
		sum += v * [3]int{7, 3, 1}[i%3]
	}
	return sum % 10, nil
}

// checkDigitChar is CheckDigit for strings already validated.
func checkDigitChar(s string) byte {
	d, _ := CheckDigit(s)
	return byte('0' + d)
}

// validChars reports the first character outside [A-Z0-9<] with a reason.
func validChars(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if charValue(c) >= 0 {
			continue
		}
		if c >= 'a' && c <= 'z' {
			return fmt.Errorf("lowercase letter at position %d: the MRZ is upper case only", i+1)
		}
		return fmt.Errorf("character at position %d is not in the MRZ character set [A-Z0-9<]", i+1)
	}
	return nil
}

func isDate(s string) bool {
	if len(s) != 6 {
		return false
	}
	for i := 0; i < 6; i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '<' {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

func isAlphaFiller(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < 'A' || s[i] > 'Z') && s[i] != '<' {
			return false
		}
	}
	return true
}

func trimFiller(s string) string { return strings.TrimRight(s, "<") }

// KeyInput returns the MRZ information that seeds the BAC keys (Part 11 §4.3):
// the document number padded with '<' to at least 9 characters, the date of birth
// and the date of expiry (YYMMDD, digits only), each followed by its check digit.
// A document number longer than 9 characters is used in full, as §4.3 requires.
func KeyInput(docNumber, dateOfBirth, dateOfExpiry string) (string, error) {
	if docNumber == "" || trimFiller(docNumber) == "" {
		return "", errors.New("mrz: empty document number")
	}
	if err := validChars(docNumber); err != nil {
		return "", fmt.Errorf("mrz: document number: %w", err)
	}
	if !isDigits(dateOfBirth) || len(dateOfBirth) != 6 {
		return "", errors.New("mrz: date of birth must be 6 digits (YYMMDD)")
	}
	if !isDigits(dateOfExpiry) || len(dateOfExpiry) != 6 {
		return "", errors.New("mrz: date of expiry must be 6 digits (YYMMDD)")
	}
	if n := len(docNumber); n < 9 {
		docNumber += strings.Repeat("<", 9-n)
	}
	var b strings.Builder
	for _, f := range []string{docNumber, dateOfBirth, dateOfExpiry} {
		b.WriteString(f)
		b.WriteByte(checkDigitChar(f))
	}
	return b.String(), nil
}

// KeyInput returns the BAC key input of the zone's document.
func (m *MRZ) KeyInput() (string, error) {
	return KeyInput(m.DocumentNumber, m.DateOfBirth, m.DateOfExpiry)
}

// splitLines normalises the text into MRZ lines: surrounding whitespace and CR
// are dropped, blank lines skipped, and a single line of 90 or 88 characters (the
// form EF.DG1 stores) is cut into TD1 or TD3 lines.
func splitLines(text string) []string {
	var lines []string
	for _, l := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 1 {
		switch l := lines[0]; len(l) {
		case 3 * 30:
			return []string{l[:30], l[30:60], l[60:]}
		case 2 * 44:
			return []string{l[:44], l[44:]}
		}
	}
	return lines
}

// Parse parses and validates a TD1 or TD3 machine readable zone: every character
// and every check digit (document number, date of birth, date of expiry, TD3
// personal number, composite). It accepts the lines separated by LF or CRLF with
// surrounding whitespace, or the concatenated form of EF.DG1. A failed check digit
// gives a *CheckDigitError naming the field.
func Parse(text string) (*MRZ, error) {
	lines := splitLines(text)
	for i, l := range lines {
		if err := validChars(l); err != nil {
			return nil, fmt.Errorf("mrz: line %d: %w", i+1, err)
		}
	}
	switch {
	case len(lines) == 3 && len(lines[0]) == 30:
		return parseTD1(lines)
	case len(lines) == 2 && len(lines[0]) == 44:
		return parseTD3(lines)
	}
	if len(lines) > 0 {
		return nil, fmt.Errorf("mrz: %d lines, the first of %d characters: not TD1 (3x30) or TD3 (2x44)", len(lines), len(lines[0]))
	}
	return nil, errors.New("mrz: empty")
}

func checkLineLengths(lines []string, n int) error {
	for i, l := range lines {
		if len(l) != n {
			return fmt.Errorf("mrz: line %d has %d characters, want %d", i+1, len(l), n)
		}
	}
	return nil
}

// verify checks that cd is the check digit of field.
func verify(name, field string, cd byte) error {
	if cd != checkDigitChar(field) {
		return &CheckDigitError{Field: name}
	}
	return nil
}

// setCommon fills and checks the fields shared by the layouts.
func (m *MRZ) setCommon(code, state, dob, sex, exp, nat, name string) error {
	if code[0] < 'A' || code[0] > 'Z' || !isAlphaFiller(code) {
		return errors.New("mrz: document code must start with a letter")
	}
	if !isAlphaFiller(state) || !isAlphaFiller(nat) {
		return errors.New("mrz: issuing state and nationality must be letters or '<'")
	}
	if !isDate(dob) {
		return errors.New("mrz: date of birth is not YYMMDD")
	}
	if !isDate(exp) {
		return errors.New("mrz: date of expiry is not YYMMDD")
	}
	switch sex {
	case "M", "F", "X":
		m.Sex = sex
	case "<":
	default:
		return errors.New("mrz: sex must be M, F, X or '<'")
	}
	m.DocumentCode = trimFiller(code)
	m.IssuingState = trimFiller(state)
	m.DateOfBirth = dob
	m.DateOfExpiry = exp
	m.Nationality = trimFiller(nat)
	m.PrimaryName, m.SecondaryName = splitName(name)
	return nil
}

// splitName splits the name field at the first "<<" into primary and secondary
// identifiers and turns the remaining fillers into spaces. It keeps everything
// else, so that encoding the result gives back the same field.
func splitName(field string) (primary, secondary string) {
	field = trimFiller(field)
	p, s, _ := strings.Cut(field, "<<")
	return strings.ReplaceAll(p, "<", " "), strings.ReplaceAll(s, "<", " ")
}

func parseTD1(lines []string) (*MRZ, error) {
	if err := checkLineLengths(lines, 30); err != nil {
		return nil, err
	}
	l1, l2, l3 := lines[0], lines[1], lines[2]
	m := &MRZ{Format: TD1, Lines: append([]string(nil), lines...)}
	if err := m.setCommon(l1[0:2], l1[2:5], l2[0:6], l2[7:8], l2[8:14], l2[15:18], l3); err != nil {
		return nil, err
	}
	opt1 := l1[15:30]
	if l1[14] == '<' {
		// Part 5 note j: a document number longer than 9 characters continues in
		// optional data, followed by its check digit and a filler.
		end := strings.IndexByte(opt1, '<')
		if end < 0 {
			end = len(opt1)
		}
		if end < 2 {
			return nil, errors.New("mrz: document number check digit missing")
		}
		m.DocumentNumber = l1[5:14] + opt1[:end-1]
		if err := verify("document number", m.DocumentNumber, opt1[end-1]); err != nil {
			return nil, err
		}
		opt1 = opt1[min(end+1, len(opt1)):]
	} else {
		m.DocumentNumber = trimFiller(l1[5:14])
		if m.DocumentNumber == "" {
			return nil, errors.New("mrz: empty document number")
		}
		if err := verify("document number", l1[5:14], l1[14]); err != nil {
			return nil, err
		}
	}
	m.OptionalData1 = trimFiller(opt1)
	m.OptionalData2 = trimFiller(l2[18:29])
	for _, c := range []struct {
		name, field string
		cd          byte
	}{
		{"date of birth", l2[0:6], l2[6]},
		{"date of expiry", l2[8:14], l2[14]},
		{"composite", l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29], l2[29]},
	} {
		if err := verify(c.name, c.field, c.cd); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func parseTD3(lines []string) (*MRZ, error) {
	if err := checkLineLengths(lines, 44); err != nil {
		return nil, err
	}
	l1, l2 := lines[0], lines[1]
	m := &MRZ{Format: TD3, Lines: append([]string(nil), lines...)}
	if err := m.setCommon(l1[0:2], l1[2:5], l2[13:19], l2[20:21], l2[21:27], l2[10:13], l1[5:44]); err != nil {
		return nil, err
	}
	m.DocumentNumber = trimFiller(l2[0:9])
	if m.DocumentNumber == "" {
		return nil, errors.New("mrz: empty document number")
	}
	m.OptionalData1 = trimFiller(l2[28:42])
	// Part 4: the personal number check digit may be '<' when the field is empty.
	personalCD := l2[42]
	if personalCD == '<' && m.OptionalData1 == "" {
		personalCD = '0'
	}
	for _, c := range []struct {
		name, field string
		cd          byte
	}{
		{"document number", l2[0:9], l2[9]},
		{"date of birth", l2[13:19], l2[19]},
		{"date of expiry", l2[21:27], l2[27]},
		{"personal number", l2[28:42], personalCD},
		{"composite", l2[0:10] + l2[13:20] + l2[21:43], l2[43]},
	} {
		if err := verify(c.name, c.field, c.cd); err != nil {
			return nil, err
		}
	}
	return m, nil
}
