package outbox

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

var testKey = bytes.Repeat([]byte{0x42}, 32)

func mustSealer(t testing.TB) *sealer {
	t.Helper()
	s, err := newSealer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewSealerKeyLength(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 16, 24, 31, 33} {
		if _, err := newSealer(make([]byte, n)); err == nil {
			t.Errorf("a %d-byte key was accepted; AES-256 needs 32", n)
		}
	}
}

// TestSealBindsRowAndKind proves a blob opens only under the row id, kind and
// sequence it was sealed for, so blobs cannot be swapped between rows or roles.
func TestSealBindsRowAndKind(t *testing.T) {
	t.Parallel()
	s := mustSealer(t)
	plain := []byte("scanned page bytes")
	blob := s.seal(plain, 7, kindAttachment, 1)
	if bytes.Contains(blob, plain) {
		t.Fatal("plaintext visible in the sealed blob")
	}
	tests := []struct {
		name string
		id   int64
		kind string
		seq  int
		ok   bool
	}{
		{"same row, kind, seq", 7, kindAttachment, 1, true},
		{"other row", 8, kindAttachment, 1, false},
		{"other kind", 7, kindFiling, 1, false},
		{"other page", 7, kindAttachment, 0, false},
		{"row 70 seq 1 vs row 7 seq 01 (separator)", 70, kindAttachment, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := s.open(blob, tc.id, tc.kind, tc.seq)
			if tc.ok && (err != nil || !bytes.Equal(p, plain)) {
				t.Fatalf("open = %q, %v; want the plaintext", p, err)
			}
			if !tc.ok && !errors.Is(err, errSealed) {
				t.Fatalf("open succeeded or wrong error: %v", err)
			}
		})
	}
}

func TestSealNonceIsRandom(t *testing.T) {
	t.Parallel()
	s := mustSealer(t)
	a, b := s.seal([]byte("x"), 1, kindFiling, 0), s.seal([]byte("x"), 1, kindFiling, 0)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are identical: the nonce is not random")
	}
}

func TestOpenRejectsDamage(t *testing.T) {
	t.Parallel()
	s := mustSealer(t)
	good := s.seal([]byte("body"), 3, kindFiling, 0)
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 1; return b }
	tests := map[string][]byte{
		"empty":      nil,
		"short":      good[:blobOverhead-1],
		"version":    flip(0),
		"nonce":      flip(1),
		"ciphertext": flip(blobOverhead - 16),
		"tag":        flip(len(good) - 1),
		"truncated":  good[:len(good)-1],
		"extra byte": append(bytes.Clone(good), 0),
		"other sealer": func() []byte {
			o, _ := newSealer(bytes.Repeat([]byte{1}, 32))
			return o.seal([]byte("body"), 3, kindFiling, 0)
		}(),
	}
	for name, blob := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := s.open(blob, 3, kindFiling, 0); !errors.Is(err, errSealed) {
				t.Fatalf("damaged blob: err = %v, want errSealed", err)
			}
		})
	}
}

func TestFilingEncodingRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []Filing{
		{MaHoSo: "000.00.01.H01-260101-0001", ProcedureCode: "1.001193", CreatedAt: time.Unix(0, 1767225600123456789), Body: []byte(`{"a":"Nguyễn"}`)},
		{MaHoSo: "x", ProcedureCode: "y", CreatedAt: time.Unix(0, -5), Body: []byte("null")},
		{MaHoSo: string(make([]byte, 300)), ProcedureCode: "p", CreatedAt: time.Unix(0, 0), Body: []byte{}},
	}
	for _, f := range tests {
		got, err := decodeFiling(encodeFiling(&f))
		if err != nil {
			t.Fatal(err)
		}
		if got.MaHoSo != f.MaHoSo || got.ProcedureCode != f.ProcedureCode || !got.CreatedAt.Equal(f.CreatedAt) || !bytes.Equal(got.Body, f.Body) {
			t.Errorf("round trip: got %+v, want %+v", got, f)
		}
	}
	as := []Attachment{
		{Name: "trang-1.jpg", ContentType: "image/jpeg", Data: []byte{0xff, 0xd8, 0xff}},
		{Name: "", ContentType: "", Data: nil},
	}
	for _, a := range as {
		got, err := decodeAttachment(encodeAttachment(&a))
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != a.Name || got.ContentType != a.ContentType || !bytes.Equal(got.Data, a.Data) {
			t.Errorf("round trip: got %+v, want %+v", got, a)
		}
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	t.Parallel()
	good := encodeFiling(&Filing{MaHoSo: "m", ProcedureCode: "p", Body: []byte("{}")})
	tests := map[string][]byte{
		"empty":          nil,
		"bad version":    append([]byte{9}, good[1:]...),
		"truncated":      good[:len(good)-1],
		"trailing":       append(bytes.Clone(good), 0),
		"huge length":    {plainVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"varint overrun": {plainVersion, 0x80},
	}
	for name, p := range tests {
		if _, err := decodeFiling(p); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	if _, err := decodeAttachment([]byte{plainVersion, 5, 'a'}); err == nil {
		t.Error("attachment with a name running past the end decoded")
	}
}

// FuzzDecodeFiling feeds arbitrary stored plaintext to the decoder: it must not
// panic, and whatever it accepts must survive re-encoding unchanged.
func FuzzDecodeFiling(f *testing.F) {
	f.Add(encodeFiling(&Filing{MaHoSo: "H01-260101-0001", ProcedureCode: "1.001193", CreatedAt: time.Unix(1, 2), Body: []byte(`{}`)}))
	f.Add([]byte{plainVersion})
	f.Add([]byte{plainVersion, 0x80, 0x80})
	f.Fuzz(func(t *testing.T, p []byte) {
		got, err := decodeFiling(p)
		if err != nil {
			return
		}
		again, err := decodeFiling(encodeFiling(&got))
		if err != nil || again.MaHoSo != got.MaHoSo || again.ProcedureCode != got.ProcedureCode ||
			!again.CreatedAt.Equal(got.CreatedAt) || !bytes.Equal(again.Body, got.Body) {
			t.Fatalf("re-encoding changed the filing: %v", err)
		}
	})
}

// FuzzDecodeAttachment: no panic, and accepted input round-trips.
func FuzzDecodeAttachment(f *testing.F) {
	f.Add(encodeAttachment(&Attachment{Name: "p1.jpg", ContentType: "image/jpeg", Data: []byte{1, 2, 3}}))
	f.Add([]byte{plainVersion, 0xff})
	f.Fuzz(func(t *testing.T, p []byte) {
		a, err := decodeAttachment(p)
		if err != nil {
			return
		}
		b, err := decodeAttachment(encodeAttachment(&a))
		if err != nil || b.Name != a.Name || b.ContentType != a.ContentType || !bytes.Equal(b.Data, a.Data) {
			t.Fatalf("round trip changed the attachment: %v", err)
		}
	})
}

// FuzzOpen feeds arbitrary bytes as a stored blob under arbitrary row ids: only
// a blob really sealed for row 1 (the seed; fuzz workers each seal their own, so
// it is recognised by what it opens to, not by its bytes) may open, anything
// else fails with errSealed, and nothing panics.
func FuzzOpen(f *testing.F) {
	s := mustSealer(f)
	f.Add(s.seal([]byte("x"), 1, kindFiling, 0), int64(1))
	f.Add([]byte{blobVersion}, int64(0))
	f.Fuzz(func(t *testing.T, blob []byte, id int64) {
		p, err := s.open(blob, id, kindFiling, 0)
		if err == nil && (id != 1 || string(p) != "x") {
			t.Fatalf("a blob that was not sealed for row %d opened", id)
		}
		if err != nil && !errors.Is(err, errSealed) {
			t.Fatalf("error does not wrap errSealed: %v", err)
		}
	})
}
