package lds

import (
	"errors"
	"fmt"

	"github.com/vnkiosk/kiosk/devices/idcard/tlv"
)

const tagMRZ tlv.Tag = 0x5F1F

// MRZ lengths of the three ICAO 9303 document formats (Parts 4–6): TD1 (the
// Vietnamese card, 3×30), TD2 (2×36) and TD3 (2×44).
const (
	mrzTD1 = 90
	mrzTD2 = 72
	mrzTD3 = 88
)

// ParseDG1 returns the machine readable zone held in DG1, as one string without line
// breaks. It checks only the length and the MRZ character set (A–Z, 0–9, '<');
// the fields are another package's business.
func ParseDG1(b []byte) (string, error) {
	v, err := unwrapFile(b, dgFile(1))
	if err != nil {
		return "", err
	}
	mrz, found, err := tlv.Find(v, tagMRZ)
	if err != nil {
		return "", fmt.Errorf("lds: parse EF.DG1: %w", err)
	}
	if !found {
		return "", fmt.Errorf("lds: parse EF.DG1: no MRZ (tag %s)", tagMRZ)
	}
	if err := checkMRZ(mrz); err != nil {
		return "", fmt.Errorf("lds: parse EF.DG1: %w", err)
	}
	return string(mrz), nil
}

// EncodeDG1 encodes mrz (without line breaks) as a whole DG1 file.
func EncodeDG1(mrz string) ([]byte, error) {
	if err := checkMRZ([]byte(mrz)); err != nil {
		return nil, fmt.Errorf("lds: encode EF.DG1: %w", err)
	}
	return tlv.Encode(TagDG1, tlv.Encode(tagMRZ, []byte(mrz))), nil
}

func checkMRZ(b []byte) error {
	switch len(b) {
	case mrzTD1, mrzTD2, mrzTD3:
	default:
		return fmt.Errorf("MRZ of %d characters, want %d, %d or %d", len(b), mrzTD1, mrzTD2, mrzTD3)
	}
	for _, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '<') {
			// The offending byte is not quoted: it sits among personal data.
			return errors.New("MRZ holds a character outside A-Z, 0-9 and '<'")
		}
	}
	return nil
}
