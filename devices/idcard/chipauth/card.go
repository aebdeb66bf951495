package chipauth

import (
	"bytes"
	"errors"
	"math/big"
	"sync"

	"github.com/vnkiosk/kiosk/devices/idcard/eccurve"
	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/securemessaging"
	"github.com/vnkiosk/kiosk/devices/idcard/securityinfo"
	"github.com/vnkiosk/kiosk/devices/idcard/tlv"
)

// Card is the chip side of chip authentication for the virtual card. It receives
// commands already unwrapped by the current secure messaging session. When a
// command completes chip authentication, Process returns the new session: the
// virtual card wraps that command's response with the old session, then uses the
// new one for every later command (§6.2.4).
type Card struct {
	info  securityinfo.ChipAuthenticationInfo
	s     *suite
	curve *eccurve.Curve
	d     []byte

	mu        sync.Mutex
	atPending bool // MSE:Set AT accepted, GENERAL AUTHENTICATE expected
}

// NewCard configures the chip side for info with the chip's static private key d
// (big-endian) on curve.
func NewCard(info securityinfo.ChipAuthenticationInfo, curve *eccurve.Curve, d []byte) (*Card, error) {
	s, err := resolve(info)
	if err != nil {
		return nil, err
	}
	if curve == nil {
		return nil, errors.New("chipauth: card without a curve")
	}
	k := new(big.Int).SetBytes(d)
	if k.Sign() <= 0 || k.Cmp(curve.Params().N) >= 0 {
		return nil, errors.New("chipauth: card private key out of range")
	}
	s.curve = curve
	return &Card{info: info, s: s, curve: curve, d: bytes.Clone(d)}, nil
}

// PublicKeyInfo returns the ChipAuthenticationPublicKeyInfo to put in DG14, with
// the key as a named-curve or an explicit-parameters SubjectPublicKeyInfo (the
// latter is what many issuers write for brainpool keys).
func (c *Card) PublicKeyInfo(explicit bool) (securityinfo.ChipAuthenticationPublicKeyInfo, error) {
	pub := c.curve.ScalarBaseMult(c.d)
	enc := securityinfo.EncodeECPublicKey
	if explicit {
		enc = securityinfo.EncodeECPublicKeyExplicit
	}
	spki, err := enc(c.curve, pub)
	if err != nil {
		return securityinfo.ChipAuthenticationPublicKeyInfo{}, err
	}
	return securityinfo.ChipAuthenticationPublicKeyInfo{Protocol: securityinfo.OIDPKECDH, SubjectPublicKeyInfo: spki, KeyID: c.info.KeyID, Curve: c.curve, Point: pub}, nil
}

// Handles reports whether cmd is a chip authentication command: MSE:Set AT or
// Set KAT with P1 41, or GENERAL AUTHENTICATE after a chip authentication
// MSE:Set AT.
func (c *Card) Handles(cmd iso7816.Command) bool {
	if cmd.CLA != 0 {
		return false
	}
	if cmd.INS == insMSE && cmd.P1 == p1SetCompute && (cmd.P2 == p2AT || cmd.P2 == p2KAT) {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return cmd.INS == insGeneralAuth && c.atPending
}

// Process answers one chip authentication command.
func (c *Card) Process(cmd iso7816.Command) (iso7816.Response, *securemessaging.CardSession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	refuse := func(sw iso7816.SW) (iso7816.Response, *securemessaging.CardSession) {
		c.atPending = false
		return iso7816.Response{SW: sw}, nil
	}
	if cmd.CLA != 0 {
		return refuse(iso7816.SWCLANotSupported)
	}
	switch {
	case cmd.INS == insMSE && cmd.P1 == p1SetCompute && cmd.P2 == p2KAT:
		// §6.2.4.1: Set KAT is for 3DES only.
		if c.s.alg != securemessaging.TripleDES {
			return refuse(iso7816.SWConditionsNotSatisfied)
		}
		key, ok := c.mseData(cmd.Data, tagKATEphemeralKey, nil)
		if !ok {
			return refuse(iso7816.SWIncorrectData)
		}
		return c.agree(key, iso7816.Response{SW: iso7816.SWOK})
	case cmd.INS == insMSE && cmd.P1 == p1SetCompute && cmd.P2 == p2AT:
		if _, ok := c.mseData(cmd.Data, tagCryptoMechanism, c.s.oidBytes); !ok {
			return refuse(iso7816.SWIncorrectData)
		}
		c.atPending = true
		return iso7816.Response{SW: iso7816.SWOK}, nil
	case cmd.INS == insGeneralAuth:
		if !c.atPending {
			return refuse(iso7816.SWConditionsNotSatisfied)
		}
		c.atPending = false
		if cmd.P1 != 0 || cmd.P2 != 0 {
			return refuse(iso7816.SWIncorrectP1P2)
		}
		dyn, err := tlv.Unwrap(cmd.Data, tagDynamicAuth)
		if err != nil {
			return refuse(iso7816.SWIncorrectData)
		}
		key, ok, err := tlv.Find(dyn, tagEphemeralKey)
		if err != nil || !ok {
			return refuse(iso7816.SWIncorrectData)
		}
		// Real chips answer an empty dynamic authentication template.
		return c.agree(key, iso7816.Response{Data: []byte{0x7C, 0x00}, SW: iso7816.SWOK})
	}
	return refuse(iso7816.SWINSNotSupported)
}

// mseData checks an MSE data field: the object tagged want must be present (and
// equal to value when value is not nil), a keyId must name this chip's key.
func (c *Card) mseData(data []byte, want tlv.Tag, value []byte) ([]byte, bool) {
	objs, err := tlv.ParseAll(data)
	if err != nil {
		return nil, false
	}
	var got []byte
	found := false
	for _, o := range objs {
		switch o.Tag {
		case want:
			got, found = o.Value, true
		case tagKeyRef:
			if c.s.keyRef == nil || !bytes.Equal(o.Value, c.s.keyRef) {
				return nil, false
			}
		}
	}
	if !found || (value != nil && !bytes.Equal(got, value)) {
		return nil, false
	}
	return got, true
}

// agree completes the key agreement with the terminal's ephemeral key.
func (c *Card) agree(key []byte, ok iso7816.Response) (iso7816.Response, *securemessaging.CardSession) {
	pub, err := c.curve.Unmarshal(key)
	if err != nil {
		return iso7816.Response{SW: iso7816.SWIncorrectData}, nil
	}
	secret, err := c.s.sharedSecret(c.d, pub)
	if err != nil {
		return iso7816.Response{SW: iso7816.SWIncorrectData}, nil
	}
	alg := c.s.alg
	sess, err := securemessaging.NewCardSession(alg, securemessaging.KDF(alg, secret, securemessaging.CounterEnc), securemessaging.KDF(alg, secret, securemessaging.CounterMAC), make([]byte, alg.BlockSize()))
	if err != nil {
		return iso7816.Response{SW: iso7816.SWUnknown}, nil
	}
	return ok, sess
}
