package lds

import (
	"fmt"

	"github.com/vnkiosk/kiosk/devices/idcard/tlv"
)

// The files below are ASN.1 structures in an LDS template. This package only
// checks the template and that the content is one element of the right type; the
// packages that use them (securityinfo, activeauth, passiveauth) parse them, with
// whatever strictness their protocol needs.

// ParseDG14 returns the DER SET OF SecurityInfo held in DG14, including its SET tag
// and length.
func ParseDG14(b []byte) ([]byte, error) {
	return parseWrapped(b, dgFile(14), tagSet)
}

// EncodeDG14 wraps a DER SET OF SecurityInfo as a whole DG14 file.
func EncodeDG14(securityInfos []byte) ([]byte, error) {
	return encodeWrapped(securityInfos, dgFile(14), tagSet)
}

// ParseDG15 returns the DER SubjectPublicKeyInfo of the Active Authentication key
// held in DG15.
func ParseDG15(b []byte) ([]byte, error) {
	return parseWrapped(b, dgFile(15), tagSequence)
}

// EncodeDG15 wraps a DER SubjectPublicKeyInfo as a whole DG15 file.
func EncodeDG15(spki []byte) ([]byte, error) {
	return encodeWrapped(spki, dgFile(15), tagSequence)
}

// ParseSOD returns the DER ContentInfo (a CMS SignedData) held in EF.SOD.
func ParseSOD(b []byte) ([]byte, error) {
	return parseWrapped(b, FileSOD, tagSequence)
}

// EncodeSOD wraps a DER ContentInfo as a whole EF.SOD file.
func EncodeSOD(contentInfo []byte) ([]byte, error) {
	return encodeWrapped(contentInfo, FileSOD, tagSequence)
}

func parseWrapped(b []byte, f File, tag tlv.Tag) ([]byte, error) {
	v, err := unwrapFile(b, f)
	if err != nil {
		return nil, err
	}
	if err := checkElement(v, tag); err != nil {
		return nil, fmt.Errorf("lds: parse %s: %w", f.Name, err)
	}
	return v, nil
}

func encodeWrapped(v []byte, f File, tag tlv.Tag) ([]byte, error) {
	if err := checkElement(v, tag); err != nil {
		return nil, fmt.Errorf("lds: encode %s: %w", f.Name, err)
	}
	return tlv.Encode(f.Tag, v), nil
}

// checkElement checks that b is exactly one constructed universal element with the
// given tag. Lengths are read as BER, not DER: deciding whether a non-minimal
// length is acceptable belongs to the parser of the content.
func checkElement(b []byte, tag tlv.Tag) error {
	o, rest, err := tlv.Next(b)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d bytes after the ASN.1 element", len(rest))
	}
	if o.Tag != tag {
		return fmt.Errorf("ASN.1 element has tag %s, want %s", o.Tag, tag)
	}
	return nil
}
