// Package qrpayload owns the meaning of what the kiosk's QR/barcode scanner reads.
// Parse tells apart the chip ID card's QR (delegated to devices/idcard/cardqr), the
// dossier receipt the kiosk prints, the technician's provisioning QR and a VietQR /
// EMVCo payment code (recognised by its "000201" header and left undecoded: paying is
// done in the citizen's banking app, not by scanning at the kiosk), and calls anything
// else unknown. Parse never fails and never panics: a payload that claims a kind by
// its header but breaks that kind's rules comes back as that kind with Err set, so the
// screen can say what went wrong instead of "unknown code".
//
// The two formats this project defines are plain text, '|'-separated like the card's
// own QR, and start with a versioned tag so that a later kiosk can change them while
// an older one says "newer version" rather than misreading the fields.
//
// Dossier receipt, printed by the kiosk on the receipt of a filed dossier so the
// citizen can later track it by scanning:
//
//	HS1|<MaHoSo>|<agency code>|<yyMMdd>
//
// MaHoSo (the dossier code, often "<agency code>-<yyMMdd>-<NNNN>", though that shape is
// unverified and not enforced) and the agency code (madonvi) are 1 to 64 and 1 to 32
// characters of A-Z a-z 0-9 . _ -; yyMMdd is the day the dossier was received
// (20yy). The code is unsigned: it reveals nothing beyond the dossier code printed
// beside it, so a lookup it starts must show only what the public portal shows.
//
// Provisioning, shown by the provisioning server to the technician who installs a
// kiosk:
//
//	KIOSKPROV1|<server URL>|<one-time token>|<site code>|<CA fingerprint>
//
// The server URL is https with a host and no user, query or fragment (the token
// has its own field, so no URL here ever carries a credential); the token is 22 to
// 256 base64url characters (at least 128 bits); the site code is 1 to 64 characters
// of A-Z a-z 0-9 . _ -; the fingerprint is the SHA-256 of the provisioning CA's
// certificate (DER) as 64 hex digits, which the kiosk pins before it trusts the
// server.
package qrpayload

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/vnkiosk/kiosk/devices/idcard/cardqr"
)

// Kind is what a scanned code is.
type Kind string

// The kinds of code a kiosk is shown.
const (
	KindCard         Kind = "card"         // the QR on the chip ID card (CCCD)
	KindReceipt      Kind = "receipt"      // a dossier receipt this project's kiosks print
	KindProvisioning Kind = "provisioning" // a technician's kiosk set-up code
	KindPayment      Kind = "payment"      // a VietQR/EMVCo merchant code, not decoded here
	KindUnknown      Kind = "unknown"
)

// MaxLen bounds a payload; a QR code holds at most 7089 characters (numeric mode).
const MaxLen = 7089

// ErrNewerVersion is Err for a receipt or provisioning code whose version tag is
// newer than this kiosk understands.
var ErrNewerVersion = errors.New("newer than this kiosk understands")

// Content is what Parse makes of a payload. Exactly the pointer matching Kind is set
// when Err is nil; when Err is set the pointers are nil, except that CAN may still be
// known for a card QR.
type Content struct {
	Kind Kind
	// Err says why a code that claims Kind is not valid.
	Err error

	Card         *cardqr.Card
	Receipt      *Receipt
	Provisioning *Provisioning
	// CAN is the card access number (the ID number's last six digits) of a card QR.
	// It is set even when the rest of the card QR is damaged: a keyboard-wedge
	// scanner drops the Vietnamese letters of the name and address but keeps the
	// digits, and a wrong CAN only makes PACE fail, so it is safe to try.
	CAN string
}

// Parse classifies and decodes a scanned payload. A trailing CR/LF is ignored.
func Parse(payload string) Content {
	s := strings.TrimRight(payload, "\r\n")
	if len(s) > MaxLen {
		return Content{Kind: KindUnknown, Err: fmt.Errorf("%d bytes is longer than any QR code holds", len(s))}
	}
	switch {
	case hasVersionTag(s, receiptTag):
		r, err := ParseReceipt(s)
		return Content{Kind: KindReceipt, Receipt: r, Err: err}
	case hasVersionTag(s, provisioningTag):
		p, err := ParseProvisioning(s)
		return Content{Kind: KindProvisioning, Provisioning: p, Err: err}
	case looksLikeCardQR(s):
		c, err := cardqr.Parse(s)
		if err != nil {
			c = nil
		}
		return Content{Kind: KindCard, Card: c, Err: err, CAN: s[6:12]}
	case strings.HasPrefix(s, "000201"):
		// EMVCo payload format indicator: tag 00, length 02, value "01".
		return Content{Kind: KindPayment}
	}
	return Content{Kind: KindUnknown}
}

// looksLikeCardQR: the card QR starts with the 12-digit ID number and a '|'. It is
// tested before the EMVCo header because an ID number could in principle start
// with 000201; an EMVCo payload never has '|' at offset 12.
func looksLikeCardQR(s string) bool {
	return len(s) > 12 && s[12] == '|' && allDigits(s[:12])
}

// hasVersionTag reports whether s starts with tag, decimal version digits and '|'.
func hasVersionTag(s, tag string) bool {
	rest, ok := strings.CutPrefix(s, tag)
	if !ok {
		return false
	}
	n := 0
	for n < len(rest) && n < 4 && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	return n > 0 && n < len(rest) && rest[n] == '|'
}

// checkVersion returns the fields after the version tag, or says why the version
// is not the one this kiosk reads.
func checkVersion(s, tag string, known int, what string) ([]string, error) {
	f := strings.Split(s, "|")
	v, _ := strconv.Atoi(strings.TrimPrefix(f[0], tag)) // hasVersionTag checked: 1-4 digits
	switch {
	case v > known:
		return nil, fmt.Errorf("%s: version %d is %w", what, v, ErrNewerVersion)
	case v < known:
		return nil, fmt.Errorf("%s: version %d was never defined", what, v)
	}
	return f[1:], nil
}

// Message is a sentence for the citizen or technician in both languages.
type Message struct {
	VI, EN string
}

// Describe says, for the screen, what was scanned or why it cannot be used.
func (c Content) Describe() Message {
	switch c.Kind {
	case KindCard:
		if c.Err != nil {
			return Message{
				"Không đọc được đầy đủ mã QR trên thẻ căn cước. Vui lòng đặt thẻ lên đầu đọc thẻ.",
				"The ID card's QR code could not be read in full. Please place the card on the card reader.",
			}
		}
		return Message{"Đã đọc mã QR trên thẻ căn cước.", "Read the QR code on the ID card."}
	case KindReceipt:
		if errors.Is(c.Err, ErrNewerVersion) {
			return Message{
				"Biên nhận này do phiên bản mới hơn tạo ra. Vui lòng nhập mã hồ sơ hoặc hỏi cán bộ.",
				"This receipt was made by a newer version. Please type the dossier code or ask the staff.",
			}
		}
		if c.Err != nil {
			return Message{"Mã biên nhận không hợp lệ hoặc bị hỏng.", "This receipt code is not valid or is damaged."}
		}
		return Message{"Đã đọc mã biên nhận hồ sơ.", "Read the dossier receipt code."}
	case KindProvisioning:
		if c.Err != nil {
			return Message{"Mã cài đặt ki-ốt không hợp lệ.", "This kiosk set-up code is not valid."}
		}
		return Message{"Mã cài đặt ki-ốt dành cho kỹ thuật viên.", "Kiosk set-up code, for technicians."}
	case KindPayment:
		return Message{
			"Đây là mã thanh toán VietQR. Vui lòng quét mã này bằng ứng dụng ngân hàng trên điện thoại.",
			"This is a VietQR payment code. Please scan it with the banking app on your phone.",
		}
	}
	return Message{"Ki-ốt không nhận ra mã này.", "The kiosk does not recognise this code."}
}

// LogValue keeps personal data and the provisioning token out of logs, even when a
// caller logs a whole Content: only the kind and whether it is valid are shown.
func (c Content) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kind", string(c.Kind)), slog.Bool("valid", c.Err == nil))
}

// codeChars reports whether s is 1..max characters of A-Z a-z 0-9 . _ -, the
// alphabet of dossier, agency and site codes.
func codeChars(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}
