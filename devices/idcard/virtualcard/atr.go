package virtualcard

// buildATR returns the Answer To Reset a PC/SC reader makes up for a contactless
// ISO/IEC 14443-4 card (PC/SC Part 3 §3.1.3.2.3): 3B 8n 80 01, the n historical
// bytes, TCK. The historical bytes are the category indicator 80 and the card
// capabilities (ISO/IEC 7816-4 §12.1.1.8, compact-TLV tag 7): selection by full
// DF name, by file identifier and by short EF identifier (94); one-byte data units
// (01); command chaining (80), plus "extended Lc and Le fields" (40) exactly when
// the card accepts extended-length APDUs — which is how the reader decides to
// use them.
func buildATR(extended bool) []byte {
	caps := byte(0x80)
	if extended {
		caps |= 0x40
	}
	hist := []byte{0x80, 0x73, 0x94, 0x01, caps}
	atr := []byte{0x3B, 0x80 | byte(len(hist)), 0x80, 0x01}
	atr = append(atr, hist...)
	var tck byte
	for _, b := range atr[1:] {
		tck ^= b
	}
	return append(atr, tck)
}
