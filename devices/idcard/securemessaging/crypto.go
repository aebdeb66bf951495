package securemessaging

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/aead/cmac"
)

// MACLen is the length of every ICAO 9303 MAC: DO'8E', the BAC cryptogram MAC and
// the PACE/CA authentication tokens are all 8 bytes, AES CMAC included (§9.8).
const MACLen = 8

// errPadding is deliberately uninformative: a padding oracle must not learn where
// the padding check failed. It is only reached after the MAC has been verified.
var errPadding = errors.New("invalid padding")

// Pad applies ISO/IEC 9797-1 padding method 2: 0x80 then zeros up to a multiple of
// blockSize. It always adds at least one byte, which is what makes it reversible.
func Pad(b []byte, blockSize int) []byte {
	n := len(b) + 1
	if r := n % blockSize; r != 0 {
		n += blockSize - r
	}
	out := make([]byte, n)
	copy(out, b)
	out[len(b)] = 0x80
	return out
}

// Unpad removes ISO/IEC 9797-1 padding method 2, strictly: the input must be whole
// blocks and the padding at most one block of 0x80 followed by zeros.
func Unpad(b []byte, blockSize int) ([]byte, error) {
	if len(b) == 0 || len(b)%blockSize != 0 {
		return nil, errPadding
	}
	for i := len(b) - 1; i >= 0 && i >= len(b)-blockSize; i-- {
		switch b[i] {
		case 0x00:
			continue
		case 0x80:
			return b[:i:i], nil
		}
		return nil, errPadding
	}
	return nil, errPadding
}

// MAC computes the 8-byte ICAO 9303 MAC of msg with key: for 3DES, ISO/IEC 9797-1
// MAC algorithm 3 (single-DES CBC-MAC with the first key half, final block
// decrypted with the second half and encrypted with the first) after padding
// method 2; for AES, CMAC truncated to 8 bytes (§9.8), whose own
// padding applies only when msg is not block-aligned. Secure messaging pads its
// AES input before calling MAC, the PACE authentication token does not; both are
// what the standard specifies.
func MAC(alg Algorithm, key, msg []byte) ([]byte, error) {
	f, err := newMACFunc(alg, key)
	if err != nil {
		return nil, err
	}
	return f(msg), nil
}

// newMACFunc builds the keyed MAC once, so that a session cannot fail later.
func newMACFunc(alg Algorithm, key []byte) (func(msg []byte) []byte, error) {
	if len(key) != alg.KeyLen() {
		return nil, fmt.Errorf("securemessaging: %s MAC key of %d bytes, want %d", alg, len(key), alg.KeyLen())
	}
	switch alg {
	case TripleDES:
		ka, err := des.NewCipher(key[:8])
		if err != nil {
			return nil, err
		}
		kb, err := des.NewCipher(key[8:16])
		if err != nil {
			return nil, err
		}
		return func(msg []byte) []byte { return retailMAC(ka, kb, msg) }, nil
	case AES128, AES192, AES256:
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		// A 16-byte block and an 8-byte tag are always accepted by cmac.
		if _, err := cmac.NewWithTagSize(b, MACLen); err != nil {
			return nil, err
		}
		return func(msg []byte) []byte {
			h, _ := cmac.NewWithTagSize(b, MACLen)
			h.Write(msg)
			return h.Sum(nil)
		}, nil
	}
	return nil, fmt.Errorf("securemessaging: unknown algorithm %d", int(alg))
}

func retailMAC(ka, kb cipher.Block, msg []byte) []byte {
	p := Pad(msg, des.BlockSize)
	h := make([]byte, des.BlockSize)
	for i := 0; i < len(p); i += des.BlockSize {
		subtle.XORBytes(h, h, p[i:i+des.BlockSize])
		ka.Encrypt(h, h)
	}
	kb.Decrypt(h, h)
	ka.Encrypt(h, h)
	return h
}

// suite holds the session keys and the send sequence counter of one side of a
// secure messaging session.
type suite struct {
	alg   Algorithm
	enc   cipher.Block // 3DES EDE or AES under KSenc
	macFn func(msg []byte) []byte
	ssc   []byte
}

func newSuite(alg Algorithm, kenc, kmac, ssc []byte) (*suite, error) {
	switch alg {
	case TripleDES, AES128, AES192, AES256:
	default:
		return nil, fmt.Errorf("securemessaging: unknown algorithm %d", int(alg))
	}
	if len(kenc) != alg.KeyLen() || len(kmac) != alg.KeyLen() {
		return nil, fmt.Errorf("securemessaging: %s needs %d-byte keys, got %d and %d", alg, alg.KeyLen(), len(kenc), len(kmac))
	}
	if len(ssc) != alg.BlockSize() {
		return nil, fmt.Errorf("securemessaging: %s needs a %d-byte SSC, got %d", alg, alg.BlockSize(), len(ssc))
	}
	var enc cipher.Block
	var err error
	if alg == TripleDES {
		// 2-key 3DES is EDE with K1 || K2 || K1.
		k := make([]byte, 0, 24)
		k = append(append(k, kenc...), kenc[:8]...)
		enc, err = des.NewTripleDESCipher(k)
	} else {
		enc, err = aes.NewCipher(kenc)
	}
	if err != nil {
		return nil, fmt.Errorf("securemessaging: %w", err)
	}
	macFn, err := newMACFunc(alg, kmac)
	if err != nil {
		return nil, err
	}
	return &suite{
		alg:   alg,
		enc:   enc,
		macFn: macFn,
		ssc:   append([]byte(nil), ssc...),
	}, nil
}

// incrementSSC adds one to the big-endian counter, wrapping at 2^(8n) like the
// chip does; a session never comes near that.
func (s *suite) incrementSSC() {
	for i := len(s.ssc) - 1; i >= 0; i-- {
		s.ssc[i]++
		if s.ssc[i] != 0 {
			return
		}
	}
}

// iv is zero for 3DES and E(KSenc, SSC) for AES (§9.8), so that
// with AES no two messages of a session share an IV.
func (s *suite) iv() []byte {
	iv := make([]byte, s.enc.BlockSize())
	if s.alg != TripleDES {
		s.enc.Encrypt(iv, s.ssc)
	}
	return iv
}

// encrypt pads and encrypts plain with the current SSC.
func (s *suite) encrypt(plain []byte) []byte {
	p := Pad(plain, s.enc.BlockSize())
	cipher.NewCBCEncrypter(s.enc, s.iv()).CryptBlocks(p, p)
	return p
}

// decrypt decrypts ct with the current SSC and removes the padding. Callers verify
// the MAC first.
func (s *suite) decrypt(ct []byte) ([]byte, error) {
	bs := s.enc.BlockSize()
	if len(ct) == 0 || len(ct)%bs != 0 {
		return nil, fmt.Errorf("cryptogram of %d bytes is not a whole number of %d-byte blocks", len(ct), bs)
	}
	p := make([]byte, len(ct))
	cipher.NewCBCDecrypter(s.enc, s.iv()).CryptBlocks(p, ct)
	return Unpad(p, bs)
}

// mac computes the MAC of SSC || parts (§9.8). For AES the input is padded
// here so that CMAC sees whole blocks, as the standard pads before MACing; for 3DES
// MAC algorithm 3 pads itself.
func (s *suite) mac(parts ...[]byte) []byte {
	n := len(s.ssc)
	for _, p := range parts {
		n += len(p)
	}
	msg := make([]byte, 0, n+s.enc.BlockSize())
	msg = append(msg, s.ssc...)
	for _, p := range parts {
		msg = append(msg, p...)
	}
	if s.alg != TripleDES {
		msg = Pad(msg, s.enc.BlockSize())
	}
	return s.macFn(msg)
}

func (s *suite) verifyMAC(got []byte, parts ...[]byte) bool {
	return subtle.ConstantTimeCompare(got, s.mac(parts...)) == 1
}
