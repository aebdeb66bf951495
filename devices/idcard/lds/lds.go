// Package lds owns the Logical Data Structure of the LDS1 eMRTD application as ICAO
// 9303 Part 10 (LDS 1.7) §4 defines it: the file table (file identifiers, short
// file identifiers and template tags of EF.COM, EF.SOD and DG1–DG16, plus
// EF.CardAccess of the master file), and parsing and encoding of the files a kiosk
// reads: EF.COM, DG1 (the MRZ), DG2 with its ISO/IEC 19794-5 facial record, the
// Vietnamese DG13, DG14 (SecurityInfos), DG15 (the Active Authentication key) and
// the EF.SOD wrapper. Encoders exist so that the virtual card serves exactly what
// a real one would. Everything here reads bytes from a chip that may be hostile:
// parsers bound-check every length and never panic, and error messages never quote
// the personal data they failed to parse.
package lds

import (
	"fmt"

	"github.com/vnkiosk/kiosk/devices/idcard/tlv"
)

// Template tags of the LDS1 elementary files (ICAO 9303 Part 10 §4).
const (
	TagCOM  tlv.Tag = 0x60
	TagDG1  tlv.Tag = 0x61
	TagDG2  tlv.Tag = 0x75
	TagDG3  tlv.Tag = 0x63
	TagDG4  tlv.Tag = 0x76
	TagDG5  tlv.Tag = 0x65
	TagDG6  tlv.Tag = 0x66
	TagDG7  tlv.Tag = 0x67
	TagDG8  tlv.Tag = 0x68
	TagDG9  tlv.Tag = 0x69
	TagDG10 tlv.Tag = 0x6A
	TagDG11 tlv.Tag = 0x6B
	TagDG12 tlv.Tag = 0x6C
	TagDG13 tlv.Tag = 0x6D
	TagDG14 tlv.Tag = 0x6E
	TagDG15 tlv.Tag = 0x6F
	TagDG16 tlv.Tag = 0x70
	TagSOD  tlv.Tag = 0x77
)

// File is one elementary file of the LDS: its file identifier for SELECT, its
// short file identifier for READ BINARY with SFI, and the tag its content starts
// with.
type File struct {
	Name      string  // "EF.COM", "EF.DG1", ...
	FID       uint16  // file identifier
	SFI       byte    // short file identifier
	Tag       tlv.Tag // outer template tag; 0 for EF.CardAccess, which is a bare SET OF SecurityInfo
	DataGroup int     // 1–16 for data groups, 0 otherwise
}

// The files outside the numbered data groups.
var (
	FileCOM        = File{Name: "EF.COM", FID: 0x011E, SFI: 0x1E, Tag: TagCOM}
	FileSOD        = File{Name: "EF.SOD", FID: 0x011D, SFI: 0x1D, Tag: TagSOD}
	FileCardAccess = File{Name: "EF.CardAccess", FID: 0x011C, SFI: 0x1C}
)

// dgTags lists the data group tags by number; index 0 is unused.
var dgTags = [17]tlv.Tag{0, TagDG1, TagDG2, TagDG3, TagDG4, TagDG5, TagDG6, TagDG7, TagDG8,
	TagDG9, TagDG10, TagDG11, TagDG12, TagDG13, TagDG14, TagDG15, TagDG16}

// DataGroupFile returns the file of data group n (1–16). The FID is 01nn and the SFI
// nn, as the LDS numbers them consecutively.
func DataGroupFile(n int) (File, error) {
	if n < 1 || n > 16 {
		return File{}, fmt.Errorf("lds: no data group %d", n)
	}
	return dgFile(n), nil
}

// dgFile builds the entry of data group n, which the caller has checked is 1–16.
func dgFile(n int) File {
	return File{
		Name:      fmt.Sprintf("EF.DG%d", n),
		FID:       0x0100 + uint16(n),
		SFI:       byte(n),
		Tag:       dgTags[n],
		DataGroup: n,
	}
}

// Files returns the whole file table: EF.COM, EF.SOD, DG1–DG16 and EF.CardAccess.
func Files() []File {
	out := []File{FileCOM, FileSOD}
	for n := 1; n <= 16; n++ {
		out = append(out, dgFile(n))
	}
	return append(out, FileCardAccess)
}

// FileByTag returns the file whose content starts with tag, which is how EF.COM's
// tag list names the data groups present.
func FileByTag(tag tlv.Tag) (File, error) {
	switch tag {
	case TagCOM:
		return FileCOM, nil
	case TagSOD:
		return FileSOD, nil
	}
	for n := 1; n <= 16; n++ {
		if dgTags[n] == tag {
			return dgFile(n), nil
		}
	}
	return File{}, fmt.Errorf("lds: no file with tag %s", tag)
}

// unwrapFile strips the outer template of a whole file, naming the file in the error.
func unwrapFile(b []byte, f File) ([]byte, error) {
	v, err := tlv.Unwrap(b, f.Tag)
	if err != nil {
		return nil, fmt.Errorf("lds: parse %s: %w", f.Name, err)
	}
	return v, nil
}
