// Package tlv owns BER-TLV as ICAO 9303 and ISO/IEC 7816-4 use it: multi-byte tags,
// definite lengths up to four bytes, and constructed objects. It decodes hostile
// input without panicking and refuses indefinite lengths, which the LDS never uses.
package tlv

import (
	"errors"
	"fmt"
)

// Tag is a BER tag with its class and constructed bits, as it appears on the wire
// (0x5F1F, 0x7F49, 0x61...).
type Tag uint32

// Constructed reports whether the tag's first byte has the constructed bit set.
func (t Tag) Constructed() bool {
	b := uint32(t)
	for b > 0xFF {
		b >>= 8
	}
	return b&0x20 != 0
}

func (t Tag) bytes() []byte {
	switch {
	case t > 0xFFFFFF:
		return []byte{byte(t >> 24), byte(t >> 16), byte(t >> 8), byte(t)}
	case t > 0xFFFF:
		return []byte{byte(t >> 16), byte(t >> 8), byte(t)}
	case t > 0xFF:
		return []byte{byte(t >> 8), byte(t)}
	default:
		return []byte{byte(t)}
	}
}

func (t Tag) String() string { return fmt.Sprintf("%02X", uint32(t)) }

// ErrTruncated means the input ended inside a tag, length or value.
var ErrTruncated = errors.New("tlv: truncated")

// maxLen bounds a single value: no eMRTD file comes near it and it keeps a hostile
// length from asking for gigabytes.
const maxLen = 1 << 24

// ParseHeader reads one tag and length from b and returns them with the number of
// header bytes. The value may extend past the end of b: callers reading a file in
// chunks use this to learn the total size from the first chunk.
func ParseHeader(b []byte) (tag Tag, length int, headerLen int, err error) {
	if len(b) == 0 {
		return 0, 0, 0, ErrTruncated
	}
	i := 0
	first := b[i]
	i++
	t := uint32(first)
	if first&0x1F == 0x1F {
		for {
			if i >= len(b) {
				return 0, 0, 0, ErrTruncated
			}
			if i >= 4 {
				return 0, 0, 0, errors.New("tlv: tag longer than 4 bytes")
			}
			t = t<<8 | uint32(b[i])
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(b) {
		return 0, 0, 0, ErrTruncated
	}
	l := int(b[i])
	i++
	if l == 0x80 {
		return 0, 0, 0, errors.New("tlv: indefinite length not supported")
	}
	if l > 0x80 {
		n := l & 0x7F
		if n > 4 {
			return 0, 0, 0, fmt.Errorf("tlv: length of %d bytes not supported", n)
		}
		if i+n > len(b) {
			return 0, 0, 0, ErrTruncated
		}
		l = 0
		for _, c := range b[i : i+n] {
			l = l<<8 | int(c)
		}
		i += n
		if l > maxLen {
			return 0, 0, 0, fmt.Errorf("tlv: length %d too large", l)
		}
	}
	return Tag(t), l, i, nil
}

// Object is one decoded TLV. Value aliases the input.
type Object struct {
	Tag   Tag
	Value []byte
}

// Next decodes the first TLV in b and returns it with the remaining bytes.
func Next(b []byte) (Object, []byte, error) {
	tag, l, h, err := ParseHeader(b)
	if err != nil {
		return Object{}, nil, err
	}
	if h+l > len(b) {
		return Object{}, nil, fmt.Errorf("tlv: value of tag %s needs %d bytes, %d left: %w", tag, l, len(b)-h, ErrTruncated)
	}
	return Object{Tag: tag, Value: b[h : h+l : h+l]}, b[h+l:], nil
}

// ParseAll decodes a sequence of TLVs that must fill b exactly.
func ParseAll(b []byte) ([]Object, error) {
	var out []Object
	for len(b) > 0 {
		o, rest, err := Next(b)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
		b = rest
	}
	return out, nil
}

// Unwrap decodes a single TLV that must be tagged want and fill b exactly
// (trailing zero padding is tolerated, as some cards pad files).
func Unwrap(b []byte, want Tag) ([]byte, error) {
	o, rest, err := Next(b)
	if err != nil {
		return nil, err
	}
	if o.Tag != want {
		return nil, fmt.Errorf("tlv: tag %s, want %s", o.Tag, want)
	}
	for _, c := range rest {
		if c != 0 && c != 0xFF {
			return nil, fmt.Errorf("tlv: %d bytes after tag %s", len(rest), want)
		}
	}
	return o.Value, nil
}

// Find returns the value of the first TLV tagged want among the TLVs in b.
func Find(b []byte, want Tag) ([]byte, bool, error) {
	for len(b) > 0 {
		o, rest, err := Next(b)
		if err != nil {
			return nil, false, err
		}
		if o.Tag == want {
			return o.Value, true, nil
		}
		b = rest
	}
	return nil, false, nil
}

// EncodeLength returns the BER definite length encoding of n.
func EncodeLength(n int) []byte {
	switch {
	case n < 0x80:
		return []byte{byte(n)}
	case n <= 0xFF:
		return []byte{0x81, byte(n)}
	case n <= 0xFFFF:
		return []byte{0x82, byte(n >> 8), byte(n)}
	case n <= 0xFFFFFF:
		return []byte{0x83, byte(n >> 16), byte(n >> 8), byte(n)}
	default:
		return []byte{0x84, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
}

// Encode returns tag, length and the concatenation of values.
func Encode(tag Tag, values ...[]byte) []byte {
	n := 0
	for _, v := range values {
		n += len(v)
	}
	tb := tag.bytes()
	lb := EncodeLength(n)
	out := make([]byte, 0, len(tb)+len(lb)+n)
	out = append(out, tb...)
	out = append(out, lb...)
	for _, v := range values {
		out = append(out, v...)
	}
	return out
}
