package lds

import (
	"errors"
	"fmt"

	"github.com/vnkiosk/kiosk/devices/idcard/tlv"
)

// EF.COM element tags (ICAO 9303 Part 10 §4).
const (
	tagLDSVersion     tlv.Tag = 0x5F01
	tagUnicodeVersion tlv.Tag = 0x5F36
	tagTagList        tlv.Tag = 0x5C
)

// COM is EF.COM: the LDS and Unicode versions and the list of data groups present.
// The list is only a hint — EF.SOD is the authenticated list — so readers use it to
// decide what to read, never what to trust.
type COM struct {
	LDSVersion     string    // four digits "aabb": "0107" is LDS 1.7
	UnicodeVersion string    // six digits "aabbcc": "040000" is Unicode 4.0.0
	Tags           []tlv.Tag // data group tags in card order, including tags this package does not know
}

// DataGroups returns the numbers of the data groups the tag list names, in card
// order; tags that name no data group are skipped.
func (c COM) DataGroups() []int {
	var out []int
	for _, t := range c.Tags {
		if f, err := FileByTag(t); err == nil && f.DataGroup != 0 {
			out = append(out, f.DataGroup)
		}
	}
	return out
}

// ParseCOM parses the whole EF.COM file. Objects it does not know are skipped:
// later LDS versions may add some.
func ParseCOM(b []byte) (COM, error) {
	v, err := unwrapFile(b, FileCOM)
	if err != nil {
		return COM{}, err
	}
	objs, err := tlv.ParseAll(v)
	if err != nil {
		return COM{}, fmt.Errorf("lds: parse EF.COM: %w", err)
	}
	var c COM
	var haveLDS, haveUni, haveList bool
	for _, o := range objs {
		switch o.Tag {
		case tagLDSVersion:
			if haveLDS || !isDigits(o.Value, 4) {
				return COM{}, errors.New("lds: parse EF.COM: LDS version must be 4 digits, once")
			}
			c.LDSVersion, haveLDS = string(o.Value), true
		case tagUnicodeVersion:
			if haveUni || !isDigits(o.Value, 6) {
				return COM{}, errors.New("lds: parse EF.COM: Unicode version must be 6 digits, once")
			}
			c.UnicodeVersion, haveUni = string(o.Value), true
		case tagTagList:
			if haveList {
				return COM{}, errors.New("lds: parse EF.COM: tag list repeated")
			}
			haveList = true
			// Every data group tag is a single byte (Part 10 §4), so the list
			// is a plain byte string rather than a sequence of BER tags.
			c.Tags = make([]tlv.Tag, len(o.Value))
			for i, t := range o.Value {
				c.Tags[i] = tlv.Tag(t)
			}
		}
	}
	if !haveLDS || !haveUni || !haveList {
		return COM{}, errors.New("lds: parse EF.COM: LDS version, Unicode version and tag list are all mandatory")
	}
	return c, nil
}

// EncodeCOM encodes c as a whole EF.COM file.
func EncodeCOM(c COM) ([]byte, error) {
	if !isDigits([]byte(c.LDSVersion), 4) {
		return nil, errors.New("lds: encode EF.COM: LDS version must be 4 digits")
	}
	if !isDigits([]byte(c.UnicodeVersion), 6) {
		return nil, errors.New("lds: encode EF.COM: Unicode version must be 6 digits")
	}
	list := make([]byte, len(c.Tags))
	for i, t := range c.Tags {
		if t > 0xFF {
			return nil, fmt.Errorf("lds: encode EF.COM: tag %s is not a single-byte data group tag", t)
		}
		list[i] = byte(t)
	}
	return tlv.Encode(TagCOM,
		tlv.Encode(tagLDSVersion, []byte(c.LDSVersion)),
		tlv.Encode(tagUnicodeVersion, []byte(c.UnicodeVersion)),
		tlv.Encode(tagTagList, list),
	), nil
}

func isDigits(b []byte, n int) bool {
	if len(b) != n {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
