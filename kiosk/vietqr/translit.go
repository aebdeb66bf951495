package vietqr

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Transliterate writes Vietnamese text in the ASCII a VietQR purpose must use, the
// way Vietnamese write without diacritics: "Lệ phí hộ tịch" becomes "Le phi ho tich".
// Tone and vowel marks are dropped (by canonical decomposition, so precomposed and
// combining input give the same result), đ and Đ become d and D, any Unicode space
// becomes an ASCII space, and other characters outside printable ASCII (emoji, the
// ₫ sign, curly quotes) are left out. Nothing else is changed: the length limit is
// Encode's to enforce, not something to cut silently here.
func Transliterate(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		switch {
		case r == 'đ' || r == 'ð':
			b.WriteByte('d')
		case r == 'Đ' || r == 'Ð': // Ð (eth) stands in for Đ in some legacy encodings
			b.WriteByte('D')
		case unicode.Is(unicode.Mn, r):
			// a combining mark split off by NFD: the diacritic itself
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		case r >= 0x20 && r <= 0x7E:
			b.WriteRune(r)
		}
	}
	return b.String()
}
