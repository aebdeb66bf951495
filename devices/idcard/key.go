package idcard

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vnkiosk/kiosk/devices/idcard/cardqr"
	"github.com/vnkiosk/kiosk/devices/idcard/mrz"
)

// AccessKey is what unlocks the chip: a CAN (PACE) or the MRZ key material (PACE
// with the MRZ password, or BAC when the chip has no PACE).
type AccessKey struct {
	CAN      string // 6 digits
	MRZInput string // document number + check digit + birth + check digit + expiry + check digit
}

// KeyFromCAN checks a typed CAN.
func KeyFromCAN(can string) (AccessKey, error) {
	can = strings.TrimSpace(can)
	if len(can) != 6 || strings.Trim(can, "0123456789") != "" {
		return AccessKey{}, errors.New("the CAN is the 6 digits printed on the card (the last 6 digits of the ID number)")
	}
	return AccessKey{CAN: can}, nil
}

// KeyFromMRZ takes the MRZ text as printed (TD1 three lines or TD3 two lines).
func KeyFromMRZ(text string) (AccessKey, error) {
	m, err := mrz.Parse(text)
	if err != nil {
		return AccessKey{}, fmt.Errorf("MRZ: %w", err)
	}
	in, err := m.KeyInput()
	if err != nil {
		return AccessKey{}, fmt.Errorf("MRZ: %w", err)
	}
	return AccessKey{MRZInput: in}, nil
}

// KeyFromDocument takes the document number and the birth and expiry dates
// (YYMMDD) — the fields of the MRZ the access key is made of.
func KeyFromDocument(docNumber, dob, exp string) (AccessKey, error) {
	in, err := mrz.KeyInput(strings.ToUpper(strings.TrimSpace(docNumber)), dob, exp)
	if err != nil {
		return AccessKey{}, fmt.Errorf("document data: %w", err)
	}
	return AccessKey{MRZInput: in}, nil
}

// KeyFromCardQR takes the text of the QR printed on the card: the CAN is the last
// six digits of its ID number. The QR is unsigned; the chip proves the rest.
func KeyFromCardQR(text string) (AccessKey, error) {
	c, err := cardqr.Parse(text)
	if err != nil {
		return AccessKey{}, err
	}
	return AccessKey{CAN: c.CAN()}, nil
}
