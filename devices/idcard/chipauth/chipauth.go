// Package chipauth owns Chip Authentication, ICAO 9303 Part 11 §6.2: an
// ephemeral-static ECDH between the terminal and the chip's key from DG14, whose
// shared secret keys a new secure messaging session. Only a chip holding the
// private key can derive those keys, so a clone that copied the data groups fails
// at the next protected response. With AES the terminal sends MSE:Set AT and
// GENERAL AUTHENTICATE (§6.2.4.2); with 3DES, MSE:Set KAT (§6.2.4.1), as the CCCD's
// id-CA-ECDH-AES-CBC-CMAC-128 and older documents' 3DES variants require. The
// proof is implicit: Authenticate cannot know whether the chip derived the same
// keys, so the caller must send at least one protected command over the returned
// channel (the reader reads a file) and treat a secure messaging error there
// (securemessaging.ErrMAC, or ErrAborted when the chip rejects the command) as a
// failed chip authentication. The chip side, Card, is for the virtual card.
package chipauth

import (
	"context"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/vnkiosk/kiosk/devices/idcard/eccurve"
	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/securemessaging"
	"github.com/vnkiosk/kiosk/devices/idcard/securityinfo"
	"github.com/vnkiosk/kiosk/devices/idcard/tlv"
)

// Commands and tags of §6.2.4.
const (
	insMSE         = 0x22
	insGeneralAuth = 0x86
	p1SetCompute   = 0x41 // MSE set for internal authentication / computation
	p2AT           = 0xA4 // authentication template
	p2KAT          = 0xA6 // key agreement template

	tagDynamicAuth     tlv.Tag = 0x7C
	tagCryptoMechanism tlv.Tag = 0x80 // MSE:Set AT: protocol OID
	tagEphemeralKey    tlv.Tag = 0x80 // GENERAL AUTHENTICATE: terminal's ephemeral key
	tagKeyRef          tlv.Tag = 0x84 // keyId of the chip's key
	tagKATEphemeralKey tlv.Tag = 0x91 // MSE:Set KAT: terminal's ephemeral key
)

// suite is what a ChipAuthenticationInfo and its key resolve to.
type suite struct {
	oidBytes []byte
	alg      securemessaging.Algorithm
	curve    *eccurve.Curve
	keyRef   []byte // tag 84 value, nil when no keyId
}

func resolve(ca securityinfo.ChipAuthenticationInfo) (*suite, error) {
	proto, err := ca.CAProtocol()
	if err != nil {
		return nil, err
	}
	if proto.KeyAgreement != securityinfo.ECDH {
		return nil, fmt.Errorf("chipauth: %s not supported (ECDH only)", proto)
	}
	s := &suite{}
	switch proto.Cipher {
	case securityinfo.TripleDES:
		s.alg = securemessaging.TripleDES
	case securityinfo.AES128:
		s.alg = securemessaging.AES128
	case securityinfo.AES192:
		s.alg = securemessaging.AES192
	case securityinfo.AES256:
		s.alg = securemessaging.AES256
	default:
		return nil, fmt.Errorf("chipauth: cipher %s not supported", proto.Cipher)
	}
	// Tag 80 carries the OID's DER content, without tag and length.
	der, err := asn1.Marshal(proto.OID())
	if err != nil {
		return nil, fmt.Errorf("chipauth: protocol OID: %w", err)
	}
	o, _, err := tlv.Next(der)
	if err != nil {
		return nil, fmt.Errorf("chipauth: protocol OID: %w", err)
	}
	s.oidBytes = o.Value
	if ca.KeyID != nil {
		if *ca.KeyID < 0 {
			return nil, fmt.Errorf("chipauth: negative keyId %d", *ca.KeyID)
		}
		// The chips seen in the field take the keyId as a minimal unsigned
		// big-endian number (keyId 195 as 84 01 C3), not as a DER INTEGER.
		s.keyRef = big.NewInt(int64(*ca.KeyID)).Bytes()
		if len(s.keyRef) == 0 {
			s.keyRef = []byte{0}
		}
	}
	return s, nil
}

// Authenticate runs chip authentication over ch, the current secure messaging
// channel (from PACE or BAC), with the ChipAuthenticationInfo and the matching
// public key from DG14 (securityinfo.SecurityInfos.ChipAuthenticationPair). It
// returns the new channel over ch.Inner(), keyed from the ECDH shared secret with
// SSC zero; ch must not be used afterwards. Success is only implicit: see the
// package comment. rnd supplies the ephemeral key; nil means crypto/rand.
func Authenticate(ctx context.Context, ch *securemessaging.Channel, ca securityinfo.ChipAuthenticationInfo, pk securityinfo.ChipAuthenticationPublicKeyInfo, rnd io.Reader) (*securemessaging.Channel, error) {
	s, err := resolve(ca)
	if err != nil {
		return nil, err
	}
	curve, chipKey, err := pk.ECPublicKey()
	if err != nil {
		return nil, fmt.Errorf("chipauth: chip's public key: %w", err)
	}
	// The key comes from DG14, which passive authentication vouches for, but a
	// caller may have built the struct by hand: never compute with a point off
	// the curve.
	if !curve.IsOnCurve(chipKey) {
		return nil, errors.New("chipauth: chip's public key is not on its curve")
	}
	if ca.KeyID != nil && pk.KeyID != nil && *ca.KeyID != *pk.KeyID {
		return nil, errors.New("chipauth: public key does not belong to this ChipAuthenticationInfo")
	}
	s.curve = curve

	sk, err := curve.GenerateScalar(rnd)
	if err != nil {
		return nil, fmt.Errorf("chipauth: ephemeral key: %w", err)
	}
	eph := curve.Marshal(curve.ScalarBaseMult(sk))
	secret, err := s.sharedSecret(sk, chipKey)
	clear(sk)
	if err != nil {
		return nil, err
	}

	if s.alg == securemessaging.TripleDES {
		data := tlv.Encode(tagKATEphemeralKey, eph)
		if s.keyRef != nil {
			data = append(data, tlv.Encode(tagKeyRef, s.keyRef)...)
		}
		if err := send(ctx, ch, "MSE:Set KAT", iso7816.Command{INS: insMSE, P1: p1SetCompute, P2: p2KAT, Data: data}); err != nil {
			return nil, err
		}
	} else {
		data := tlv.Encode(tagCryptoMechanism, s.oidBytes)
		if s.keyRef != nil {
			data = append(data, tlv.Encode(tagKeyRef, s.keyRef)...)
		}
		if err := send(ctx, ch, "MSE:Set AT", iso7816.Command{INS: insMSE, P1: p1SetCompute, P2: p2AT, Data: data}); err != nil {
			return nil, err
		}
		ga := iso7816.Command{INS: insGeneralAuth, Data: tlv.Encode(tagDynamicAuth, tlv.Encode(tagEphemeralKey, eph)), Ne: iso7816.MaxShortNe}
		if err := send(ctx, ch, "GENERAL AUTHENTICATE", ga); err != nil {
			return nil, err
		}
	}
	enc, mac := securemessaging.KDF(s.alg, secret, securemessaging.CounterEnc), securemessaging.KDF(s.alg, secret, securemessaging.CounterMAC)
	clear(secret)
	return securemessaging.NewChannel(ch.Inner(), s.alg, enc, mac, make([]byte, s.alg.BlockSize()))
}

// send sends one command over the old channel. The chip's answer carries nothing
// the terminal needs (an empty 7C at most); anything else is refused so that a
// confused chip is noticed here rather than at the next command.
func send(ctx context.Context, ch *securemessaging.Channel, name string, cmd iso7816.Command) error {
	resp, err := ch.Send(ctx, cmd)
	if err != nil {
		return fmt.Errorf("chipauth: %s: %w", name, err)
	}
	if err := resp.Err(); err != nil {
		return fmt.Errorf("chipauth: %s: %w", name, err)
	}
	if len(resp.Data) > 0 {
		if _, err := tlv.Unwrap(resp.Data, tagDynamicAuth); err != nil {
			return fmt.Errorf("chipauth: %s answer: %w", name, err)
		}
	}
	return nil
}

// sharedSecret is the x-coordinate of sk·PK padded to the field size (§9.6).
func (s *suite) sharedSecret(sk []byte, pub eccurve.Point) ([]byte, error) {
	k := s.curve.ScalarMult(pub, sk)
	if !s.curve.IsOnCurve(k) {
		return nil, errors.New("chipauth: key agreement produced the point at infinity")
	}
	return k.X.FillBytes(make([]byte, s.curve.ByteLen())), nil
}
