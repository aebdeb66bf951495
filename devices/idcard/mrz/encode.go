package mrz

import (
	"errors"
	"fmt"
	"strings"
)

// TD1 field widths (Part 5).
const (
	td1Width    = 30
	td1DocLen   = 9
	td1Opt1Len  = 15
	td1Opt2Len  = 11
	td1NameLen  = 30
	maxDocument = td1DocLen + td1Opt1Len - 1 // overflow leaves room for the check digit
)

// pad fills s with '<' to n characters, or fails if it is longer.
func pad(name, s string, n int) (string, error) {
	if len(s) > n {
		return "", fmt.Errorf("mrz: %s longer than %d characters", name, n)
	}
	if err := validChars(s); err != nil {
		return "", fmt.Errorf("mrz: %s: %w", name, err)
	}
	return s + strings.Repeat("<", n-len(s)), nil
}

// nameField builds the TD1 name line: primary identifier, "<<", secondary
// identifier, spaces as '<', truncated to the field. Transliteration to the MRZ
// character set is the caller's job (Part 3 §6).
func nameField(primary, secondary string) (string, error) {
	p := strings.ReplaceAll(primary, " ", "<")
	s := strings.ReplaceAll(secondary, " ", "<")
	// A double filler inside the primary identifier would read back as the
	// separator and move part of it into the secondary identifier.
	if strings.Contains(p, "<<") {
		return "", errors.New("mrz: primary name contains consecutive spaces or fillers")
	}
	for _, part := range []struct{ name, v string }{{"primary name", p}, {"secondary name", s}} {
		if err := validChars(part.v); err != nil {
			return "", fmt.Errorf("mrz: %s: %w", part.name, err)
		}
	}
	f := p
	if s != "" {
		f += "<<" + s
	}
	if len(f) > td1NameLen {
		f = f[:td1NameLen]
	}
	return f + strings.Repeat("<", td1NameLen-len(f)), nil
}

// EncodeTD1 builds the three lines of a TD1 zone from m's fields (Format and Lines
// are ignored), computing every check digit. A document number longer than 9
// characters overflows into optional data 1 with its check digit (Part 5 note j).
// Names are truncated to the 30-character field; everything else must fit or the
// call fails. Parse of the joined lines gives m back for such input.
func EncodeTD1(m MRZ) ([]string, error) {
	if m.DocumentCode == "" || m.DocumentCode[0] < 'A' || m.DocumentCode[0] > 'Z' || !isAlphaFiller(m.DocumentCode) {
		return nil, errors.New("mrz: document code must be one or two letters")
	}
	if !isAlphaFiller(m.IssuingState) || !isAlphaFiller(m.Nationality) {
		return nil, errors.New("mrz: issuing state and nationality must be letters")
	}
	if !isDate(m.DateOfBirth) {
		return nil, errors.New("mrz: date of birth is not YYMMDD")
	}
	if !isDate(m.DateOfExpiry) {
		return nil, errors.New("mrz: date of expiry is not YYMMDD")
	}
	sex := m.Sex
	switch sex {
	case "M", "F", "X":
	case "":
		sex = "<"
	default:
		return nil, errors.New("mrz: sex must be M, F, X or empty")
	}
	doc := m.DocumentNumber
	if err := validChars(doc); err != nil {
		return nil, fmt.Errorf("mrz: document number: %w", err)
	}
	if trimFiller(doc) != doc || doc == "" {
		return nil, errors.New("mrz: document number is empty or ends in a filler")
	}
	if len(doc) > maxDocument {
		return nil, fmt.Errorf("mrz: document number longer than %d characters", maxDocument)
	}
	code, err := pad("document code", m.DocumentCode, 2)
	if err != nil {
		return nil, err
	}
	state, err := pad("issuing state", m.IssuingState, 3)
	if err != nil {
		return nil, err
	}
	nat, err := pad("nationality", m.Nationality, 3)
	if err != nil {
		return nil, err
	}
	if trimFiller(m.OptionalData1) != m.OptionalData1 || trimFiller(m.OptionalData2) != m.OptionalData2 {
		return nil, errors.New("mrz: optional data ends in a filler")
	}
	var docField, opt1 string
	if len(doc) <= td1DocLen {
		docField, _ = pad("document number", doc, td1DocLen)
		docField += string(checkDigitChar(docField))
		opt1 = m.OptionalData1
	} else {
		rest := doc[td1DocLen:]
		if strings.Contains(rest, "<") {
			return nil, errors.New("mrz: filler in the overflowing part of the document number")
		}
		docField = doc[:td1DocLen] + "<"
		opt1 = rest + string(checkDigitChar(doc))
		if m.OptionalData1 != "" {
			opt1 += "<" + m.OptionalData1
		}
	}
	if opt1, err = pad("optional data 1", opt1, td1Opt1Len); err != nil {
		return nil, err
	}
	opt2, err := pad("optional data 2", m.OptionalData2, td1Opt2Len)
	if err != nil {
		return nil, err
	}
	name, err := nameField(m.PrimaryName, m.SecondaryName)
	if err != nil {
		return nil, err
	}
	l1 := code + state + docField + opt1
	l2 := m.DateOfBirth + string(checkDigitChar(m.DateOfBirth)) + sex +
		m.DateOfExpiry + string(checkDigitChar(m.DateOfExpiry)) + nat + opt2
	l2 += string(checkDigitChar(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29]))
	return []string{l1, l2, name}, nil
}

// CCCD is the Vietnamese chip ID card convention (căn cước công dân): the TD1
// document number is the last 9 digits of the 12-digit personal ID number, and
// optional data 1 carries the full ID, "<<" and the ID's check digit.
const cccdIDLen = 12

// CCCDFields returns the TD1 document number and optional data 1 that a
// Vietnamese chip ID card prints for the 12-digit ID number id.
func CCCDFields(id string) (documentNumber, optionalData1 string, err error) {
	if len(id) != cccdIDLen || !isDigits(id) {
		return "", "", errors.New("mrz: Vietnamese ID number must be 12 digits")
	}
	return id[cccdIDLen-td1DocLen:], id + "<<" + string(checkDigitChar(id)), nil
}

// IDNumber returns the 12-digit personal ID number of a Vietnamese chip ID card
// from optional data 1, and false when the zone does not follow that convention or
// the ID's own check digit or its last 9 digits disagree with the document number.
func (m *MRZ) IDNumber() (string, bool) {
	if m.Format != TD1 || m.IssuingState != "VNM" || len(m.OptionalData1) != cccdIDLen+3 {
		return "", false
	}
	id := m.OptionalData1[:cccdIDLen]
	doc, opt, err := CCCDFields(id)
	if err != nil || doc != m.DocumentNumber || opt != m.OptionalData1 {
		return "", false
	}
	return id, true
}
