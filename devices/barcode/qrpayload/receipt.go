package qrpayload

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

const (
	receiptTag     = "HS"
	receiptVersion = 1
)

// Receipt is a dossier receipt code: enough to look the dossier up (TraCuuHoSo)
// at the agency that holds it, and to say when it was received while offline.
type Receipt struct {
	DossierCode string    // MaHoSo
	AgencyCode  string    // madonvi of the agency that received it
	Received    time.Time // the day, midnight UTC
}

// ParseReceipt decodes "HS1|<MaHoSo>|<agency code>|<yyMMdd>" and says which field
// is wrong.
func ParseReceipt(s string) (*Receipt, error) {
	if !hasVersionTag(s, receiptTag) {
		return nil, errors.New("receipt QR: does not start with HS<version>|")
	}
	f, err := checkVersion(s, receiptTag, receiptVersion, "receipt QR")
	if err != nil {
		return nil, err
	}
	if len(f) != 3 {
		return nil, fmt.Errorf("receipt QR: %d fields after HS1, expected 3 (dossier code, agency code, date)", len(f))
	}
	if !codeChars(f[0], 64) {
		return nil, errors.New("receipt QR: the dossier code is not 1 to 64 characters of A-Z a-z 0-9 . _ -")
	}
	if !codeChars(f[1], 32) {
		return nil, errors.New("receipt QR: the agency code is not 1 to 32 characters of A-Z a-z 0-9 . _ -")
	}
	day, err := parseDay(f[2])
	if err != nil {
		return nil, fmt.Errorf("receipt QR: date received: %w", err)
	}
	return &Receipt{DossierCode: f[0], AgencyCode: f[1], Received: day}, nil
}

// FormatReceipt writes the code the kiosk prints on a receipt, refusing what
// ParseReceipt would refuse so a printed receipt always scans back.
func FormatReceipt(r Receipt) (string, error) {
	if r.Received.Year() < 2000 || r.Received.Year() > 2099 {
		return "", fmt.Errorf("receipt QR: year %d does not fit yyMMdd (2000-2099)", r.Received.Year())
	}
	s := strings.Join([]string{receiptTag + strconv.Itoa(receiptVersion), r.DossierCode, r.AgencyCode, r.Received.Format("060102")}, "|")
	if _, err := ParseReceipt(s); err != nil {
		return "", err
	}
	return s, nil
}

func parseDay(s string) (time.Time, error) {
	if len(s) != 6 || !allDigits(s) {
		return time.Time{}, errors.New("expected yyMMdd")
	}
	t, err := time.Parse("060102", s)
	if err != nil {
		return time.Time{}, errors.New("not a calendar date (yyMMdd)")
	}
	// time.Parse puts yy 69-99 in the 1900s; receipts are all from this century.
	if t.Year() < 2000 {
		t = t.AddDate(100, 0, 0)
	}
	return t, nil
}
