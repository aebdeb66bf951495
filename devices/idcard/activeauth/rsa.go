package activeauth

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // hashes a recovered trailer may name
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// ISO/IEC 9796-2 trailers: BC means SHA-1 (implicit); xx CC names the hash by its
// ISO/IEC 10118-3 identifier.
const (
	trailerImplicit = 0xBC
	trailerExplicit = 0xCC
)

var hashIDs = []struct {
	id   byte
	hash crypto.Hash
}{
	{0x33, crypto.SHA1},
	{0x34, crypto.SHA256},
	{0x35, crypto.SHA512},
	{0x36, crypto.SHA384},
	{0x38, crypto.SHA224},
}

type rsaVerifier struct{ key *rsa.PublicKey }

// verify implements §6.1 for RSA: recover the message representative
// J = s^e mod n, then check header, padding, trailer and that the recovered hash
// equals H(M1 || challenge), M1 being the recoverable part the chip chose.
func (v rsaVerifier) verify(challenge, signature []byte) Result {
	n := v.key.N
	k := (n.BitLen() + 7) / 8
	res := Result{Algorithm: fmt.Sprintf("RSA-%d ISO/IEC 9796-2 scheme 1", n.BitLen())}
	if len(signature) == 0 || len(signature) > k {
		return res.failed(fmt.Sprintf("signature of %d bytes for a %d-byte modulus", len(signature), k))
	}
	s := new(big.Int).SetBytes(signature)
	if s.Sign() == 0 || s.Cmp(n) >= 0 {
		return res.failed("signature out of range")
	}
	j := new(big.Int).Exp(s, big.NewInt(int64(v.key.E)), n)
	// ISO/IEC 9796-2 lets the signer send min(J^d, n - J^d); every valid J ends
	// in the nibble C, and the other candidate ends in another (n is odd).
	if j.Bit(0) != 0 || j.Bit(1) != 0 || j.Bit(2) != 1 || j.Bit(3) != 1 {
		j.Sub(n, j)
	}
	m1, digest, h, reason := decodeRepresentative(j.FillBytes(make([]byte, k)))
	res.Hash = h
	if reason != "" {
		return res.failed(reason)
	}
	hh := h.New()
	hh.Write(m1)
	hh.Write(challenge)
	if subtle.ConstantTimeCompare(hh.Sum(nil), digest) != 1 {
		return res.failed("recovered hash does not match the challenge")
	}
	res.OK = true
	return res
}

// decodeRepresentative splits J = header/padding || M1 || H || trailer. A non-empty
// reason means J is not a well-formed scheme 1 representative with partial
// recovery.
func decodeRepresentative(j []byte) (m1, digest []byte, h crypto.Hash, reason string) {
	k := len(j)
	if k < 2 {
		return nil, nil, 0, "representative too short"
	}
	// Header bits 01, then 1 for partial recovery: the challenge is the
	// non-recoverable part M2.
	if j[0]&0xC0 != 0x40 {
		return nil, nil, 0, "wrong header: the key does not match the signature"
	}
	if j[0]&0x20 == 0 {
		return nil, nil, 0, "total recovery flagged, but the challenge is not recoverable"
	}
	t := 1
	switch j[k-1] {
	case trailerImplicit:
		h = crypto.SHA1
	case trailerExplicit:
		t = 2
		for _, id := range hashIDs {
			if id.id == j[k-2] {
				h = id.hash
			}
		}
		if h == 0 {
			return nil, nil, 0, fmt.Sprintf("trailer names unsupported hash %02X", j[k-2])
		}
	default:
		return nil, nil, 0, "wrong trailer"
	}
	// Padding: the low nibble of the first byte is A when M1 fills the capacity;
	// otherwise B, then BB bytes, then BA.
	start := 0
	switch j[0] & 0x0F {
	case 0x0A:
		start = 1
	case 0x0B:
		i := 1
		for i < k && j[i] == 0xBB {
			i++
		}
		if i == k || j[i] != 0xBA {
			return nil, nil, h, "malformed padding"
		}
		start = i + 1
	default:
		return nil, nil, h, "malformed padding"
	}
	end := k - t - h.Size()
	if end < start {
		return nil, nil, h, "representative too short for its hash"
	}
	return j[start:end], j[end : k-t], h, ""
}

// RSASigner is the chip side of RSA active authentication for the virtual card.
// It fills the whole capacity with a random M1 (as chips do) and signs with plain
// big-integer arithmetic, which is not constant-time: it is for a simulator whose
// key protects nothing.
type RSASigner struct {
	Key *rsa.PrivateKey
	// Hash is crypto.SHA1 (trailer BC) or SHA-224/256/384/512 (trailer xxCC).
	Hash crypto.Hash
	// Rand supplies M1; nil means crypto/rand.
	Rand io.Reader
}

// Sign implements Signer.
func (s RSASigner) Sign(challenge []byte) ([]byte, error) {
	if s.Key == nil {
		return nil, errors.New("activeauth: RSA signer without a key")
	}
	var trailer []byte
	switch s.Hash {
	case crypto.SHA1:
		trailer = []byte{trailerImplicit}
	default:
		for _, id := range hashIDs {
			if id.hash == s.Hash && s.Hash != crypto.SHA1 {
				trailer = []byte{id.id, trailerExplicit}
			}
		}
	}
	if trailer == nil {
		return nil, fmt.Errorf("activeauth: RSA signer hash %v not supported", s.Hash)
	}
	n := s.Key.N
	k := (n.BitLen() + 7) / 8
	capacity := k - 1 - s.Hash.Size() - len(trailer)
	if capacity < 1 || n.BitLen()%8 != 0 {
		return nil, fmt.Errorf("activeauth: RSA-%d key cannot carry a %v representative", n.BitLen(), s.Hash)
	}
	r := s.Rand
	if r == nil {
		r = rand.Reader
	}
	m1 := make([]byte, capacity)
	if _, err := io.ReadFull(r, m1); err != nil {
		return nil, fmt.Errorf("activeauth: M1: %w", err)
	}
	hh := s.Hash.New()
	hh.Write(m1)
	hh.Write(challenge)
	j := make([]byte, 0, k)
	j = append(j, 0x6A) // header 01, partial recovery, padding border A
	j = append(j, m1...)
	j = hh.Sum(j)
	j = append(j, trailer...)
	sig := new(big.Int).Exp(new(big.Int).SetBytes(j), s.Key.D, n)
	return sig.FillBytes(make([]byte, k)), nil
}

// PublicKey implements Signer.
func (s RSASigner) PublicKey() ([]byte, error) {
	if s.Key == nil {
		return nil, errors.New("activeauth: RSA signer without a key")
	}
	return x509.MarshalPKIXPublicKey(&s.Key.PublicKey)
}
