// Package cardqr owns the QR code printed on the back of the chip ID card (CCCD):
// `ID12|oldID9|Full name|DDMMYYYY|Nam/Nữ|Address|DDMMYYYY(issue date)`, with the
// old-ID field empty when there is none and some cards giving only six fields. The
// code is unsigned: the kiosk uses it to find the chip's CAN (the last six digits of
// the ID number) and to pre-fill forms, never as proof of identity.
package cardqr

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Card is what the QR says.
type Card struct {
	IDNumber    string // 12 digits
	OldIDNumber string // 9 digits, or "" when the holder had none
	FullName    string
	DateOfBirth time.Time
	Sex         string // "Nam" or "Nữ"
	Address     string
	DateOfIssue time.Time // zero when the six-field form omits it
}

// CAN returns the card access number the chip answers PACE to: the last six digits
// of the ID number.
func (c *Card) CAN() string { return c.IDNumber[len(c.IDNumber)-6:] }

// maxLen bounds what a scanner can hand us; a real card QR is under 300 bytes.
const maxLen = 2048

// Parse decodes the card's QR text. It accepts 6 or 7 fields, trims the CR/LF a
// scanner may add, and checks every field it uses, saying which one is wrong.
func Parse(s string) (*Card, error) {
	s = strings.TrimRight(s, "\r\n")
	if len(s) > maxLen {
		return nil, fmt.Errorf("card QR: %d bytes is too long for an ID card QR", len(s))
	}
	if !utf8.ValidString(s) {
		return nil, errors.New("card QR: not UTF-8 text (was the scanner in keyboard mode?)")
	}
	f := strings.Split(s, "|")
	if len(f) != 6 && len(f) != 7 {
		return nil, fmt.Errorf("card QR: %d fields, expected 6 or 7 separated by |", len(f))
	}
	c := &Card{IDNumber: f[0], OldIDNumber: f[1], FullName: strings.TrimSpace(f[2]), Sex: f[4], Address: strings.TrimSpace(f[5])}
	if !digits(c.IDNumber, 12) {
		return nil, errors.New("card QR: the ID number field is not 12 digits")
	}
	if c.OldIDNumber != "" && !digits(c.OldIDNumber, 9) {
		return nil, errors.New("card QR: the old ID number field is neither empty nor 9 digits")
	}
	if c.FullName == "" {
		return nil, errors.New("card QR: the name field is empty")
	}
	var err error
	if c.DateOfBirth, err = parseDate(f[3]); err != nil {
		return nil, fmt.Errorf("card QR: date of birth: %w", err)
	}
	switch c.Sex {
	case "Nam", "Nữ":
	default:
		return nil, errors.New("card QR: the sex field is neither Nam nor Nữ")
	}
	if len(f) == 7 {
		if c.DateOfIssue, err = parseDate(f[6]); err != nil {
			return nil, fmt.Errorf("card QR: date of issue: %w", err)
		}
	}
	return c, nil
}

// Format writes a card back as its QR text: seven fields, or six when the date of
// issue is unknown (the virtual card's QR, tests).
func Format(c *Card) string {
	f := []string{c.IDNumber, c.OldIDNumber, c.FullName, c.DateOfBirth.Format("02012006"), c.Sex, c.Address}
	if !c.DateOfIssue.IsZero() {
		f = append(f, c.DateOfIssue.Format("02012006"))
	}
	return strings.Join(f, "|")
}

func parseDate(s string) (time.Time, error) {
	if !digits(s, 8) {
		return time.Time{}, errors.New("expected DDMMYYYY")
	}
	t, err := time.Parse("02012006", s)
	if err != nil {
		return time.Time{}, errors.New("not a calendar date (DDMMYYYY)")
	}
	return t, nil
}

func digits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
