package tlv

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func h(s string) []byte { b, _ := hex.DecodeString(s); return b }

func TestParseHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in          string
		tag         Tag
		length, hdr int
	}{
		{"6D8201F4", 0x6D, 500, 4},
		{"5F1F5A", 0x5F1F, 90, 3},
		{"7F6182480000", 0x7F61, 0x4800, 5},
		{"7781FF", 0x77, 255, 3},
		{"83830100000000", 0x83, 0x010000, 5},
		{"0000", 0x00, 0, 2},
		{"9F9F0102", 0x9F9F01, 2, 4},
	}
	for _, tt := range tests {
		tag, l, hdr, err := ParseHeader(h(tt.in))
		if err != nil || tag != tt.tag || l != tt.length || hdr != tt.hdr {
			t.Errorf("ParseHeader(%s) = %s %d %d %v", tt.in, tag, l, hdr, err)
		}
	}
}

func TestParseHeaderRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want error
	}{
		{"", ErrTruncated},
		{"5F", ErrTruncated},
		{"5F1F", ErrTruncated},
		{"6D82", ErrTruncated},
		{"6D80", nil},           // indefinite
		{"6D850000000001", nil}, // 5-byte length
		{"9F9F9F9F01", nil},     // tag too long
		{"6D84FFFFFFFF", nil},   // too large
	}
	for _, tt := range tests {
		_, _, _, err := ParseHeader(h(tt.in))
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("ParseHeader(%s) err = %v", tt.in, err)
		}
	}
}

func TestNextParseAllFindUnwrap(t *testing.T) {
	t.Parallel()
	b := h("5F0104303130375C02616D") // COM-like content
	objs, err := ParseAll(b)
	if err != nil || len(objs) != 2 || objs[0].Tag != 0x5F01 || !bytes.Equal(objs[1].Value, []byte{0x61, 0x6D}) {
		t.Fatalf("ParseAll = %v %v", objs, err)
	}
	v, ok, err := Find(b, 0x5C)
	if err != nil || !ok || !bytes.Equal(v, []byte{0x61, 0x6D}) {
		t.Errorf("Find = %x %v %v", v, ok, err)
	}
	if _, ok, _ := Find(b, 0x99); ok {
		t.Error("Find found an absent tag")
	}
	if _, err := ParseAll(h("5F0104303130")); !errors.Is(err, ErrTruncated) {
		t.Errorf("truncated value: %v", err)
	}
	wrapped := Encode(0x60, b)
	got, err := Unwrap(append(wrapped, 0, 0), 0x60)
	if err != nil || !bytes.Equal(got, b) {
		t.Errorf("Unwrap with padding = %x %v", got, err)
	}
	if _, err := Unwrap(wrapped, 0x61); err == nil {
		t.Error("Unwrap accepted the wrong tag")
	}
	if _, err := Unwrap(append(wrapped, 1), 0x60); err == nil {
		t.Error("Unwrap accepted trailing data")
	}
}

func TestEncodeLengths(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000, 0x1000000} {
		enc := Encode(0x7F61, make([]byte, n))
		tag, l, hdr, err := ParseHeader(enc)
		if err != nil || tag != 0x7F61 || l != n || hdr+l != len(enc) {
			t.Errorf("n=%d: %s %d %d %v", n, tag, l, hdr, err)
		}
	}
	if !bytes.Equal(EncodeLength(0x80), []byte{0x81, 0x80}) || !bytes.Equal(EncodeLength(0x1234), []byte{0x82, 0x12, 0x34}) {
		t.Error("EncodeLength")
	}
	if !Tag(0x7F61).Constructed() || Tag(0x5F1F).Constructed() || !Tag(0x61).Constructed() {
		t.Error("Constructed")
	}
}

func FuzzNext(f *testing.F) {
	for _, s := range []string{"6D8201F4", "5F1F5A", "7F618248", "3134300D06080400", "77820100"} {
		f.Add(h(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, rest, err := Next(b)
		if err != nil {
			return
		}
		if len(o.Value)+len(rest) > len(b) {
			t.Fatalf("value and rest exceed input")
		}
		// Re-encoding the object gives a valid TLV with the same tag and value.
		enc := Encode(o.Tag, o.Value)
		o2, rest2, err := Next(enc)
		if err != nil || o2.Tag != o.Tag || !bytes.Equal(o2.Value, o.Value) || len(rest2) != 0 {
			t.Fatalf("re-encoding %x: %v", enc, err)
		}
		_, _ = ParseAll(b)
	})
}
