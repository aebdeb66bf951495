package securemessaging

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
)

// Algorithm is the block cipher of a secure messaging channel.
type Algorithm int

// The secure messaging algorithms of ICAO 9303 Part 11 §9.8.
const (
	TripleDES Algorithm = iota + 1 // 2-key 3DES CBC, ISO 9797-1 MAC algorithm 3
	AES128                         // AES-CBC, CMAC truncated to 8 bytes
	AES192
	AES256
)

func (a Algorithm) String() string {
	switch a {
	case TripleDES:
		return "3DES"
	case AES128:
		return "AES-128"
	case AES192:
		return "AES-192"
	case AES256:
		return "AES-256"
	}
	return "unknown"
}

// KeyLen returns the key length in bytes.
func (a Algorithm) KeyLen() int {
	switch a {
	case TripleDES, AES128:
		return 16
	case AES192:
		return 24
	case AES256:
		return 32
	}
	return 0
}

// BlockSize is the cipher block size, which is also the SSC length.
func (a Algorithm) BlockSize() int {
	if a == TripleDES {
		return 8
	}
	return 16
}

// KDF counters of ICAO 9303 Part 11 §9.7.1.
const (
	CounterEnc uint32 = 1
	CounterMAC uint32 = 2
	CounterPI  uint32 = 3 // PACE password key
)

// KDF derives a key from a shared secret: H(secret || counter), SHA-1 for 3DES and
// AES-128, SHA-256 for AES-192/256, truncated to the key length. For 3DES the
// parity bits are adjusted as §9.7.1.1 requires.
func KDF(a Algorithm, secret []byte, counter uint32) []byte {
	var c [4]byte
	binary.BigEndian.PutUint32(c[:], counter)
	var h []byte
	switch a {
	case AES192, AES256:
		s := sha256.New()
		s.Write(secret)
		s.Write(c[:])
		h = s.Sum(nil)
	default:
		s := sha1.New()
		s.Write(secret)
		s.Write(c[:])
		h = s.Sum(nil)
	}
	k := h[:a.KeyLen()]
	if a == TripleDES {
		for i, b := range k {
			k[i] = b&0xFE | oddParityBit(b)
		}
	}
	return k
}

func oddParityBit(b byte) byte {
	n := 0
	for i := 1; i < 8; i++ {
		n += int(b>>i) & 1
	}
	if n%2 == 0 {
		return 1
	}
	return 0
}
