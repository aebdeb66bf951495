package outbox

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Blob layout at rest: one version byte, then what cipher.NewGCMWithRandomNonce
// produces (12-byte random nonce, ciphertext, 16-byte tag). The version byte lets
// a later build change the layout without guessing.
const (
	blobVersion  = 1
	blobOverhead = 1 + 12 + 16
)

// Kinds of sealed blob, part of the additional authenticated data together with
// the outbox row id, so a blob moved to another row or another role (the filing
// swapped with a page, page 1 with page 2) fails authentication.
const (
	kindFiling     = "filing"
	kindAttachment = "attachment"
	kindKeyCheck   = "keycheck"
)

// errSealed is wrapped by every failure to open a stored blob.
var errSealed = errors.New("stored blob failed authentication")

// sealer encrypts blobs with AES-256-GCM and a random nonce per blob.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("outbox key is %d bytes, want 32 (AES-256)", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("outbox key: %w", err)
	}
	a, err := cipher.NewGCMWithRandomNonce(b)
	if err != nil {
		return nil, fmt.Errorf("outbox key: %w", err)
	}
	return &sealer{aead: a}, nil
}

// aad binds a blob to its row and role.
func aad(rowID int64, kind string, seq int) []byte {
	b := make([]byte, 0, 48)
	b = append(b, "vnkiosk/outbox/v1\x00"...)
	b = append(b, kind...)
	b = append(b, 0)
	b = strconv.AppendInt(b, rowID, 10)
	b = append(b, 0)
	b = strconv.AppendInt(b, int64(seq), 10)
	return b
}

func (s *sealer) seal(plain []byte, rowID int64, kind string, seq int) []byte {
	out := make([]byte, 1, blobOverhead+len(plain))
	out[0] = blobVersion
	return s.aead.Seal(out, nil, plain, aad(rowID, kind, seq))
}

func (s *sealer) open(blob []byte, rowID int64, kind string, seq int) ([]byte, error) {
	if len(blob) < blobOverhead {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the envelope", errSealed, len(blob))
	}
	if blob[0] != blobVersion {
		return nil, fmt.Errorf("%w: unknown blob version %d", errSealed, blob[0])
	}
	p, err := s.aead.Open(nil, nil, blob[1:], aad(rowID, kind, seq))
	if err != nil {
		return nil, fmt.Errorf("%w: %s %d of row %d", errSealed, kind, seq, rowID)
	}
	return p, nil
}

// The plaintext of a filing blob: version byte, then uvarint-length-prefixed
// MaHoSo, procedure code and body, with the created time as a varint of Unix
// nanoseconds before the body. Attachments: version byte, length-prefixed name and
// content type, then the data to the end. Binary rather than JSON so a
// multi-megabyte scan is not base64-inflated before it is encrypted.
const plainVersion = 1

func encodeFiling(f *Filing) []byte {
	n := 1 + 3*binary.MaxVarintLen64 + len(f.MaHoSo) + len(f.ProcedureCode) + binary.MaxVarintLen64 + len(f.Body)
	b := make([]byte, 0, n)
	b = append(b, plainVersion)
	b = appendString(b, f.MaHoSo)
	b = appendString(b, f.ProcedureCode)
	b = binary.AppendVarint(b, f.CreatedAt.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(f.Body)))
	return append(b, f.Body...)
}

func encodeAttachment(a *Attachment) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(a.Name)+len(a.ContentType)+len(a.Data))
	b = append(b, plainVersion)
	b = appendString(b, a.Name)
	b = appendString(b, a.ContentType)
	return append(b, a.Data...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads the plaintext layouts above; it never panics on bad input and
// never allocates more than the input holds.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) bytes() []byte {
	if d.err != nil {
		return nil
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 || n > uint64(len(d.b)-k) {
		d.err = errors.New("length prefix runs past the end")
		return nil
	}
	v := d.b[k : k+int(n)]
	d.b = d.b[k+int(n):]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, k := binary.Varint(d.b)
	if k <= 0 {
		d.err = errors.New("bad varint")
		return 0
	}
	d.b = d.b[k:]
	return v
}

func (d *decoder) version() {
	if len(d.b) == 0 || d.b[0] != plainVersion {
		d.err = errors.New("unknown plaintext version")
		return
	}
	d.b = d.b[1:]
}

func decodeFiling(p []byte) (Filing, error) {
	d := decoder{b: p}
	d.version()
	var f Filing
	f.MaHoSo = string(d.bytes())
	f.ProcedureCode = string(d.bytes())
	f.CreatedAt = time.Unix(0, d.varint())
	f.Body = d.bytes()
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return Filing{}, fmt.Errorf("decode filing: %w", d.err)
	}
	return f, nil
}

func decodeAttachment(p []byte) (Attachment, error) {
	d := decoder{b: p}
	d.version()
	var a Attachment
	a.Name = string(d.bytes())
	a.ContentType = string(d.bytes())
	if d.err != nil {
		return Attachment{}, fmt.Errorf("decode attachment: %w", d.err)
	}
	a.Data = d.b
	return a, nil
}
