// Package bac owns Basic Access Control, ICAO 9303 Part 11 §4.3: the document
// basic access keys derived from the MRZ (key seed = SHA-1 of document
// number, date of birth and date of expiry with their check digits), the GET
// CHALLENGE / EXTERNAL AUTHENTICATE mutual authentication with 2-key 3DES and the
// retail MAC, and the session keys and send sequence counter it yields (§9.7.1,
// §9.8). Appendix D.1-D.3 is its worked example. The terminal side returns a 3DES secure messaging Channel; the
// card side, for the virtual card, returns the matching CardSession. The Vietnamese
// chip ID card prefers PACE, but still accepts BAC with the MRZ key.
package bac

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/securemessaging"
)

// Sizes of the BAC protocol (§4.3).
const (
	nonceLen      = 8  // RND.IC, RND.IFD
	keyLen        = 16 // K.IFD, K.IC, and the 2-key 3DES keys
	cryptogramLen = 2*nonceLen + keyLen
	authDataLen   = cryptogramLen + securemessaging.MACLen // EXTERNAL AUTHENTICATE data and response: 0x28
)

// Instructions of §4.3.
const (
	insGetChallenge         = 0x84
	insExternalAuthenticate = 0x82
)

var (
	// ErrAccessDenied means the chip refused the terminal's cryptogram (6300 or
	// 6982): the key was derived from MRZ data that does not belong to this card.
	ErrAccessDenied = errors.New("bac: access denied: the document number, date of birth or date of expiry does not match the card's MRZ")
	// ErrCardAuthentication means the chip's answer did not prove knowledge of the
	// keys or did not echo the nonces: the chip is not genuine or the link is
	// tampered with.
	ErrCardAuthentication = errors.New("bac: the card failed to authenticate")
)

// DeriveKeys returns the document basic access keys of §4.3: Kseed is the first
// 16 bytes of SHA-1(keyInput), then Kenc and Kmac come from the §9.7.1 KDF with
// 3DES parity. keyInput is the MRZ information, as mrz.KeyInput builds it.
func DeriveKeys(keyInput string) (kenc, kmac []byte) {
	h := sha1.Sum([]byte(keyInput))
	seed := h[:keyLen]
	kenc = securemessaging.KDF(securemessaging.TripleDES, seed, securemessaging.CounterEnc)
	kmac = securemessaging.KDF(securemessaging.TripleDES, seed, securemessaging.CounterMAC)
	clear(h[:])
	return kenc, kmac
}

// Authenticate runs BAC over s with the key built from keyInput and returns the
// secure messaging channel over s. rnd supplies RND.IFD then K.IFD (nil means
// crypto/rand); tests inject the ICAO values through it. A wrong key gives an
// error matching ErrAccessDenied.
func Authenticate(ctx context.Context, s iso7816.Sender, keyInput string, rnd io.Reader) (*securemessaging.Channel, error) {
	if keyInput == "" {
		return nil, errors.New("bac: empty MRZ key input")
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	kenc, kmac := DeriveKeys(keyInput)

	resp, err := s.Send(ctx, iso7816.Command{INS: insGetChallenge, Ne: nonceLen})
	if err != nil {
		return nil, fmt.Errorf("bac: get challenge: %w", err)
	}
	if err := resp.Err(); err != nil {
		return nil, fmt.Errorf("bac: get challenge: %w", err)
	}
	if len(resp.Data) != nonceLen {
		return nil, fmt.Errorf("bac: get challenge: %d bytes, want %d", len(resp.Data), nonceLen)
	}
	rndIC := resp.Data

	// S = RND.IFD || RND.IC || K.IFD (§4.3, D.3).
	s1 := make([]byte, cryptogramLen)
	if _, err := io.ReadFull(rnd, s1[:nonceLen]); err != nil {
		return nil, fmt.Errorf("bac: RND.IFD: %w", err)
	}
	if _, err := io.ReadFull(rnd, s1[2*nonceLen:]); err != nil {
		return nil, fmt.Errorf("bac: K.IFD: %w", err)
	}
	copy(s1[nonceLen:], rndIC)
	rndIFD := append([]byte(nil), s1[:nonceLen]...)
	kIFD := append([]byte(nil), s1[2*nonceLen:]...)
	defer clear(kIFD)

	data, err := encryptAndMAC(kenc, kmac, s1)
	clear(s1)
	if err != nil {
		return nil, err
	}
	resp, err = s.Send(ctx, iso7816.Command{INS: insExternalAuthenticate, Data: data, Ne: authDataLen})
	if err != nil {
		return nil, fmt.Errorf("bac: external authenticate: %w", err)
	}
	switch resp.SW {
	case iso7816.SWOK:
	case 0x6300, iso7816.SWSecurityNotSatisfied:
		return nil, fmt.Errorf("%w (%w)", ErrAccessDenied, resp.Err())
	default:
		return nil, fmt.Errorf("bac: external authenticate: %w", resp.Err())
	}
	if len(resp.Data) != authDataLen {
		return nil, fmt.Errorf("bac: external authenticate: %d bytes, want %d", len(resp.Data), authDataLen)
	}
	r, err := verifyAndDecrypt(kenc, kmac, resp.Data)
	if err != nil {
		return nil, err
	}
	defer clear(r)
	// R = RND.IC || RND.IFD || K.IC (§4.3, D.3).
	if !bytes.Equal(r[:nonceLen], rndIC) || subtle.ConstantTimeCompare(r[nonceLen:2*nonceLen], rndIFD) != 1 {
		return nil, fmt.Errorf("%w: nonces not echoed", ErrCardAuthentication)
	}
	ksenc, ksmac, ssc := sessionKeys(kIFD, r[2*nonceLen:], rndIC, rndIFD)
	ch, err := securemessaging.NewChannel(s, securemessaging.TripleDES, ksenc, ksmac, ssc)
	if err != nil {
		return nil, fmt.Errorf("bac: %w", err)
	}
	return ch, nil
}

// sessionKeys derives KSenc and KSmac from K.IFD xor K.IC and takes the SSC from
// the low halves of the nonces: RND.IC[4:8] || RND.IFD[4:8] (§9.8; Appendix D.3).
func sessionKeys(kIFD, kIC, rndIC, rndIFD []byte) (ksenc, ksmac, ssc []byte) {
	seed := make([]byte, keyLen)
	subtle.XORBytes(seed, kIFD, kIC)
	ksenc = securemessaging.KDF(securemessaging.TripleDES, seed, securemessaging.CounterEnc)
	ksmac = securemessaging.KDF(securemessaging.TripleDES, seed, securemessaging.CounterMAC)
	clear(seed)
	ssc = make([]byte, 0, nonceLen)
	ssc = append(append(ssc, rndIC[4:]...), rndIFD[4:]...)
	return ksenc, ksmac, ssc
}

func tripleDES(k []byte) (cipher.Block, error) {
	key := make([]byte, 0, 24)
	key = append(append(key, k...), k[:8]...)
	b, err := des.NewTripleDESCipher(key)
	clear(key)
	if err != nil {
		return nil, fmt.Errorf("bac: %w", err)
	}
	return b, nil
}

// encryptAndMAC returns E(Kenc, plain) || MAC(Kmac, E(Kenc, plain)) with a zero IV
// (§4.3); plain is a whole number of blocks, so it is not padded.
func encryptAndMAC(kenc, kmac, plain []byte) ([]byte, error) {
	b, err := tripleDES(kenc)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(plain), len(plain)+securemessaging.MACLen)
	cipher.NewCBCEncrypter(b, make([]byte, des.BlockSize)).CryptBlocks(out, plain)
	m, err := securemessaging.MAC(securemessaging.TripleDES, kmac, out)
	if err != nil {
		return nil, fmt.Errorf("bac: %w", err)
	}
	return append(out, m...), nil
}

// verifyAndDecrypt checks the MAC of a 40-byte cryptogram || MAC and only then
// decrypts it.
func verifyAndDecrypt(kenc, kmac, data []byte) ([]byte, error) {
	ct, mac := data[:cryptogramLen], data[cryptogramLen:]
	want, err := securemessaging.MAC(securemessaging.TripleDES, kmac, ct)
	if err != nil {
		return nil, fmt.Errorf("bac: %w", err)
	}
	if subtle.ConstantTimeCompare(mac, want) != 1 {
		return nil, fmt.Errorf("%w: cryptogram MAC does not verify", ErrCardAuthentication)
	}
	b, err := tripleDES(kenc)
	if err != nil {
		return nil, err
	}
	out := make([]byte, cryptogramLen)
	cipher.NewCBCDecrypter(b, make([]byte, des.BlockSize)).CryptBlocks(out, ct)
	return out, nil
}
