// Package vietqr owns the VietQR bank-transfer codes the kiosk shows and prints so a
// citizen pays a fee from any Vietnamese banking app: the payload text, its checksum
// and its QR image. The payload is an EMVCo QR Code Specification for Payment Systems,
// Merchant-Presented Mode (EMV QRCPS MPM) string profiled by NAPAS ("Technical
// Specifications on NAPAS QR Switching", part IV, v1.5.2) for the Napas247 inter-bank
// fund transfer services QRIBFTTA (to an account) and QRIBFTTC (to a card). Encode and
// Decode are exact inverses: Decode accepts only the canonical form Encode writes
// (fields in ascending ID order, no field this package does not model), so a code
// that decodes is byte for byte the code the kiosk would print, and anything else is
// refused with the field that is wrong rather than half understood.
package vietqr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The NAPAS service codes carried in field 38.02.
const (
	ServiceToAccount = "QRIBFTTA" // Napas247 transfer to a bank account
	ServiceToCard    = "QRIBFTTC" // Napas247 transfer to a domestic card number
)

// NAPASGUID is the globally unique identifier NAPAS registered for field 38.00; it is
// what tells a banking app that field 38 is a Napas247 transfer.
const NAPASGUID = "A000000727"

// Limits from EMV QRCPS MPM and the NAPAS profile.
const (
	maxPayload    = 512 // EMVCo: a payload is at most 512 characters
	maxAccount    = 19  // NAPAS 38.01.01: account or card number, up to 19
	maxAdditional = 25  // EMVCo 62.xx sub-fields: up to 25 characters each
	maxAmountLen  = 13  // EMVCo 54: up to 13 characters
	// MaxAmount is the largest amount field 54 can carry (13 digits; VND has no
	// minor unit, so no decimal point).
	MaxAmount = 9_999_999_999_999
)

// ErrChecksum is wrapped by Decode's error when field 63 does not match the payload:
// the code was mistyped, cut or damaged, and must not be paid from.
var ErrChecksum = errors.New("checksum mismatch")

// Payment is one Napas247 transfer as a VietQR code carries it.
type Payment struct {
	// BIN is the 6-digit NAPAS acquirer (bank) identification number, e.g. 970416
	// for ACB (field 38.01.00).
	BIN string
	// Account is the beneficiary's account number (letters and digits) or, for
	// ServiceToCard, card number (digits), at most 19 characters (field 38.01.01).
	Account string
	// Service is ServiceToAccount or ServiceToCard (field 38.02).
	Service string
	// Amount in đồng. 0 makes a static code (field 01 = "11", no field 54) where
	// the payer types the amount; above 0 a dynamic code ("12") with the amount set.
	Amount int64
	// Purpose is the transfer description the payer's bank copies into the
	// transfer (field 62.08): printable ASCII, at most 25 characters. Vietnamese
	// text must first go through Transliterate.
	Purpose string
	// BillNumber is the filing's reference, so a payment can be matched to the
	// dossier (field 62.01): printable ASCII, at most 25 characters.
	BillNumber string
}

// Field paths and the names errors use for them.
var fieldNames = map[string]string{
	"00":       "payload format indicator",
	"01":       "point of initiation method",
	"38":       "NAPAS merchant account information",
	"38.00":    "GUID",
	"38.01":    "beneficiary organization",
	"38.01.00": "acquirer BIN",
	"38.01.01": "account or card number",
	"38.02":    "service code",
	"52":       "merchant category code",
	"53":       "transaction currency",
	"54":       "transaction amount",
	"58":       "country code",
	"59":       "merchant name",
	"60":       "merchant city",
	"62":       "additional data",
	"62.01":    "bill number",
	"62.08":    "purpose of transaction",
	"63":       "CRC",
}

// label names a field for an error message: "field 38.01.00 (acquirer BIN)".
func label(path string) string {
	if n, ok := fieldNames[path]; ok {
		return "field " + path + " (" + n + ")"
	}
	return "field " + path
}

// Encode returns the VietQR payload for p, fields in the order NAPAS's examples use
// (ascending IDs), ending with the CRC.
func Encode(p Payment) (string, error) {
	if err := p.validate(); err != nil {
		return "", err
	}
	var e encoder
	e.add("00", "01")
	if p.Amount > 0 {
		e.add("01", "12")
	} else {
		e.add("01", "11")
	}
	var org, mai encoder
	org.add("00", p.BIN)
	org.add("01", p.Account)
	mai.add("00", NAPASGUID)
	mai.nest("01", &org)
	mai.add("02", p.Service)
	e.nest("38", &mai)
	e.add("53", "704")
	if p.Amount > 0 {
		e.add("54", strconv.FormatInt(p.Amount, 10))
	}
	e.add("58", "VN")
	if p.BillNumber != "" || p.Purpose != "" {
		var add encoder
		if p.BillNumber != "" {
			add.add("01", p.BillNumber)
		}
		if p.Purpose != "" {
			add.add("08", p.Purpose)
		}
		e.nest("62", &add)
	}
	if e.err != nil {
		return "", e.err
	}
	// The CRC covers its own ID and length, so they are written before it is computed.
	e.b.WriteString("6304")
	fmt.Fprintf(&e.b, "%04X", CRC16CCITTFalse([]byte(e.b.String())))
	return e.b.String(), nil
}

// encoder writes ID-length-value objects; validate bounds every value, but the
// lengths are checked again here so a template can never carry a wrong length.
type encoder struct {
	b   strings.Builder
	err error
}

func (e *encoder) add(id, v string) {
	if e.err == nil && (len(v) < 1 || len(v) > 99) {
		e.err = fmt.Errorf("vietqr: field %s: value of %d characters does not fit a length of 01-99", id, len(v))
	}
	fmt.Fprintf(&e.b, "%s%02d%s", id, len(v), v)
}

func (e *encoder) nest(id string, inner *encoder) {
	if inner.err != nil && e.err == nil {
		e.err = inner.err
	}
	e.add(id, inner.b.String())
}

// validate says which field of p cannot be encoded, and why.
func (p Payment) validate() error {
	if len(p.BIN) != 6 || !allDigits(p.BIN) {
		return fmt.Errorf("vietqr: %s: %q is not 6 digits", label("38.01.00"), p.BIN)
	}
	switch p.Service {
	case ServiceToAccount, ServiceToCard:
	case "":
		return fmt.Errorf("vietqr: %s: missing; want %s (to an account) or %s (to a card)", label("38.02"), ServiceToAccount, ServiceToCard)
	default:
		return fmt.Errorf("vietqr: %s: %q is not %s (to an account) or %s (to a card)", label("38.02"), p.Service, ServiceToAccount, ServiceToCard)
	}
	if p.Account == "" || len(p.Account) > maxAccount {
		return fmt.Errorf("vietqr: %s: %q must be 1-%d characters", label("38.01.01"), p.Account, maxAccount)
	}
	if p.Service == ServiceToCard && !allDigits(p.Account) {
		return fmt.Errorf("vietqr: %s: card number %q must be digits only", label("38.01.01"), p.Account)
	}
	// Account numbers are letters and digits (some banks issue virtual accounts
	// with letters); a space or dash is a typing mistake the payer's bank rejects.
	for i := 0; i < len(p.Account); i++ {
		if c := p.Account[i]; !isDigit(c) && !('A' <= c && c <= 'Z') && !('a' <= c && c <= 'z') {
			return fmt.Errorf("vietqr: %s: %q has %q at position %d; only letters and digits are allowed", label("38.01.01"), p.Account, rune(c), i+1)
		}
	}
	if p.Amount < 0 || p.Amount > MaxAmount {
		return fmt.Errorf("vietqr: %s: %d đồng is outside 0 (static code) to %d", label("54"), p.Amount, int64(MaxAmount))
	}
	if err := checkText("62.01", p.BillNumber); err != nil {
		return err
	}
	return checkText("62.08", p.Purpose)
}

// checkText enforces the EMVCo "ans" format of the additional-data fields: the
// common character set (printable ASCII) and at most 25 characters. Banking apps show
// this text to the payer and copy it into the transfer, so Vietnamese with
// diacritics would be mangled or refused.
func checkText(path, s string) error {
	for i, r := range s {
		if r < 0x20 || r > 0x7E {
			if r >= utf8.RuneSelf {
				return fmt.Errorf("vietqr: %s: %q has the non-ASCII character %q at byte %d; pass Vietnamese text through Transliterate", label(path), s, r, i)
			}
			return fmt.Errorf("vietqr: %s: %q has the control character %q at byte %d", label(path), s, r, i)
		}
	}
	if len(s) > maxAdditional {
		return fmt.Errorf("vietqr: %s: %q is %d characters; at most %d fit", label(path), s, len(s), maxAdditional)
	}
	return nil
}

// Decode parses and checks a VietQR payload: its TLV structure, the checksum, that
// every mandatory field is present with the value NAPAS requires (GUID A000000727,
// currency 704, country VN), and that it is in the canonical form Encode writes.
func Decode(s string) (*Payment, error) {
	if len(s) > maxPayload {
		return nil, fmt.Errorf("vietqr: payload is %d characters; EMVCo allows at most %d", len(s), maxPayload)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7E {
			return nil, fmt.Errorf("vietqr: byte %#02x at offset %d is outside the EMVCo character set (printable ASCII)", s[i], i)
		}
	}
	root, err := splitTLV(s, "")
	if err != nil {
		return nil, err
	}
	if len(root) == 0 {
		return nil, errors.New("vietqr: empty payload")
	}
	if root[0].id != "00" {
		return nil, fmt.Errorf("vietqr: payload starts with field %s; EMVCo requires %s first", root[0].id, label("00"))
	}
	last := root[len(root)-1]
	if last.id != "63" {
		return nil, fmt.Errorf("vietqr: payload ends with field %s; EMVCo requires %s last", last.id, label("63"))
	}
	if len(last.value) != 4 || !upperHex(last.value) {
		return nil, fmt.Errorf("vietqr: %s: %q is not 4 upper-case hexadecimal digits", label("63"), last.value)
	}
	want := fmt.Sprintf("%04X", CRC16CCITTFalse([]byte(s[:len(s)-4])))
	if last.value != want {
		return nil, fmt.Errorf("vietqr: %w: %s says %s but the payload's CRC-16/CCITT-FALSE is %s; the code is mistyped or damaged", ErrChecksum, label("63"), last.value, want)
	}
	f, err := fieldMap(root, "", "00", "01", "38", "53", "54", "58", "62", "63")
	if err != nil {
		return nil, err
	}
	for _, id := range []string{"01", "38", "53", "58"} {
		if _, ok := f[id]; !ok {
			return nil, fmt.Errorf("vietqr: %s is missing", label(id))
		}
	}
	if v := f["00"]; v != "01" {
		return nil, fmt.Errorf("vietqr: %s: %q, want \"01\"", label("00"), v)
	}
	if v := f["53"]; v != "704" {
		return nil, fmt.Errorf("vietqr: %s: %q, want \"704\" (VND)", label("53"), v)
	}
	if v := f["58"]; v != "VN" {
		return nil, fmt.Errorf("vietqr: %s: %q, want \"VN\"", label("58"), v)
	}
	p := &Payment{}
	if v, ok := f["54"]; ok {
		if p.Amount, err = parseAmount(v); err != nil {
			return nil, err
		}
	}
	switch v := f["01"]; {
	case v == "11" && p.Amount > 0:
		return nil, fmt.Errorf("vietqr: %s: \"11\" (static) but %s is set; a code with an amount is dynamic, \"12\"", label("01"), label("54"))
	case v == "12" && p.Amount == 0:
		return nil, fmt.Errorf("vietqr: %s: \"12\" (dynamic) but %s is missing", label("01"), label("54"))
	case v != "11" && v != "12":
		return nil, fmt.Errorf("vietqr: %s: %q, want \"11\" (static) or \"12\" (dynamic)", label("01"), v)
	}
	if err := decodeMerchant(f["38"], p); err != nil {
		return nil, err
	}
	if v, ok := f["62"]; ok {
		add, err := splitTLV(v, "62")
		if err != nil {
			return nil, err
		}
		af, err := fieldMap(add, "62", "01", "08")
		if err != nil {
			return nil, err
		}
		p.BillNumber, p.Purpose = af["01"], af["08"]
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// decodeMerchant reads field 38, NAPAS's merchant account information template.
func decodeMerchant(v string, p *Payment) error {
	objs, err := splitTLV(v, "38")
	if err != nil {
		return err
	}
	f, err := fieldMap(objs, "38", "00", "01", "02")
	if err != nil {
		return err
	}
	for _, id := range []string{"00", "01", "02"} {
		if _, ok := f[id]; !ok {
			return fmt.Errorf("vietqr: %s is missing", label("38."+id))
		}
	}
	if f["00"] != NAPASGUID {
		return fmt.Errorf("vietqr: %s: %q is not NAPAS's %s; this is not a Napas247 transfer code", label("38.00"), f["00"], NAPASGUID)
	}
	p.Service = f["02"]
	org, err := splitTLV(f["01"], "38.01")
	if err != nil {
		return err
	}
	of, err := fieldMap(org, "38.01", "00", "01")
	if err != nil {
		return err
	}
	for _, id := range []string{"00", "01"} {
		if _, ok := of[id]; !ok {
			return fmt.Errorf("vietqr: %s is missing", label("38.01."+id))
		}
	}
	p.BIN, p.Account = of["00"], of["01"]
	return nil
}

func parseAmount(v string) (int64, error) {
	switch {
	case strings.Contains(v, "."):
		return 0, fmt.Errorf("vietqr: %s: %q has a decimal point; VND has no minor unit", label("54"), v)
	case !allDigits(v):
		return 0, fmt.Errorf("vietqr: %s: %q is not a number of đồng", label("54"), v)
	case len(v) > maxAmountLen:
		return 0, fmt.Errorf("vietqr: %s: %q is longer than %d digits", label("54"), v, maxAmountLen)
	case v[0] == '0':
		// Also catches "0": a zero amount is written as a static code instead.
		return 0, fmt.Errorf("vietqr: %s: %q starts with 0; an amount is a positive number without leading zeros", label("54"), v)
	}
	return strconv.ParseInt(v, 10, 64)
}

// object is one ID-length-value data object.
type object struct {
	id, value string
}

// splitTLV splits s, the value of the template at path parent ("" for the root),
// into its data objects.
func splitTLV(s, parent string) ([]object, error) {
	where := "payload"
	if parent != "" {
		where = label(parent)
	}
	var objs []object
	for i := 0; i < len(s); {
		if len(s)-i < 4 {
			return nil, fmt.Errorf("vietqr: %s truncated: %q at offset %d is too short for an ID and a length", where, s[i:], i)
		}
		id, l := s[i:i+2], s[i+2:i+4]
		if !allDigits(id) {
			return nil, fmt.Errorf("vietqr: %s: %q at offset %d is not a 2-digit field ID", where, id, i)
		}
		path := id
		if parent != "" {
			path = parent + "." + id
		}
		if !allDigits(l) {
			return nil, fmt.Errorf("vietqr: %s: length %q is not 2 digits", label(path), l)
		}
		n, _ := strconv.Atoi(l)
		if n == 0 {
			return nil, fmt.Errorf("vietqr: %s: length 00; EMVCo lengths are 01-99", label(path))
		}
		if i+4+n > len(s) {
			return nil, fmt.Errorf("vietqr: %s truncated: %s says %d characters but only %d follow", where, label(path), n, len(s)-i-4)
		}
		objs = append(objs, object{id, s[i+4 : i+4+n]})
		i += 4 + n
	}
	return objs, nil
}

// fieldMap checks a template's objects against the IDs this package models
// (allowed, ascending) and returns them by ID. Duplicates, unknown IDs and IDs out of
// ascending order are refused: each would make the code decode to something that
// does not re-encode to the same text.
func fieldMap(objs []object, parent string, allowed ...string) (map[string]string, error) {
	m := make(map[string]string, len(objs))
	prev, prevPath := "", ""
	for _, o := range objs {
		path := o.id
		if parent != "" {
			path = parent + "." + o.id
		}
		if _, dup := m[o.id]; dup {
			return nil, fmt.Errorf("vietqr: %s appears twice", label(path))
		}
		known := false
		for _, a := range allowed {
			known = known || a == o.id
		}
		if !known {
			return nil, fmt.Errorf("vietqr: %s: not part of a Napas247 transfer code this package reads", label(path))
		}
		if o.id < prev {
			return nil, fmt.Errorf("vietqr: %s comes after field %s; fields must be in ascending ID order", label(path), prevPath)
		}
		m[o.id], prev, prevPath = o.value, o.id, path
	}
	return m, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func upperHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isDigit(c) && !('A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
