package pace

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/vnkiosk/kiosk/devices/idcard/eccurve"
	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/securemessaging"
	"github.com/vnkiosk/kiosk/devices/idcard/securityinfo"
	"github.com/vnkiosk/kiosk/devices/idcard/tlv"
)

// Status words the chip side answers with besides those of iso7816.
const (
	swLastCommandExpected iso7816.SW = 0x6883 // chaining bit where the chain must end
	swChainingExpected    iso7816.SW = 0x6884 // no chaining bit where the chain goes on
	swRefDataNotFound     iso7816.SW = 0x6A88 // password reference not configured
)

// Card is the chip side of PACE for the virtual card. It answers MSE:Set AT
// (00 22 C1 A4) and the four GENERAL AUTHENTICATE commands; like a real chip it
// cannot tell a wrong password until the terminal's authentication token fails to
// verify, and then answers 6300. It is safe for concurrent use, though a card
// serves one terminal at a time.
type Card struct {
	p    *params
	keys map[PasswordKind][]byte
	rnd  io.Reader

	mu sync.Mutex
	st cardState
}

// cardState is one protocol run; the zero value means no PACE in progress.
type cardState struct {
	step    int // commands completed: 1 after MSE:Set AT, 2..4 after GA 1..3
	k       []byte
	nonce   []byte
	gMapped eccurve.Point
	pkEph   eccurve.Point // the chip's
	peerEph eccurve.Point // the terminal's
	ksEnc   []byte
	ksMAC   []byte
}

// NewCard configures the chip side for info with its passwords: the CAN digits
// and the MRZ key input (document number, birth and expiry dates with their check
// digits). Either may be empty to refuse that password. rnd supplies the nonce
// and the chip's keys; nil means crypto/rand.
func NewCard(info securityinfo.PACEInfo, can, mrzKeyInput string, rnd io.Reader) (*Card, error) {
	p, err := resolve(info)
	if err != nil {
		return nil, err
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	c := &Card{p: p, keys: map[PasswordKind][]byte{}, rnd: rnd}
	for _, pw := range []Password{{Kind: CAN, Value: can}, {Kind: MRZ, Value: mrzKeyInput}} {
		if pw.Value == "" {
			continue
		}
		k, err := pw.key()
		if err != nil {
			return nil, err
		}
		c.keys[pw.Kind] = k
	}
	if len(c.keys) == 0 {
		return nil, errors.New("pace: card needs a CAN or an MRZ key input")
	}
	return c, nil
}

// Handles reports whether cmd belongs to PACE: MSE:Set AT for mutual
// authentication or GENERAL AUTHENTICATE. The virtual card routes those to Process.
func (c *Card) Handles(cmd iso7816.Command) bool {
	if cmd.CLA&^claChaining != 0 {
		return false
	}
	return (cmd.INS == insMSE && cmd.P1 == 0xC1 && cmd.P2 == 0xA4) || cmd.INS == insGeneralAuth
}

// Process answers one PACE command. When the last GENERAL AUTHENTICATE succeeds
// it also returns the secure messaging session that protects every later command;
// the answer to that command itself goes out unprotected (§4.4.4.2).
func (c *Card) Process(cmd iso7816.Command) (iso7816.Response, *securemessaging.CardSession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	resp, sess, err := c.process(cmd)
	if err != nil {
		// Any failure ends the run: the terminal has to start again with
		// MSE:Set AT, as on a real chip.
		c.st = cardState{}
		var sw statusError
		if errors.As(err, &sw) {
			return iso7816.Response{SW: sw.sw}, nil
		}
		return iso7816.Response{SW: iso7816.SWUnknown}, nil
	}
	return resp, sess
}

// statusError is a refusal with the status word the chip answers.
type statusError struct{ sw iso7816.SW }

func (e statusError) Error() string { return fmt.Sprintf("status %s", e.sw) }

func refuse(sw iso7816.SW) error { return statusError{sw} }

func (c *Card) process(cmd iso7816.Command) (iso7816.Response, *securemessaging.CardSession, error) {
	switch {
	case cmd.INS == insMSE && cmd.P1 == 0xC1 && cmd.P2 == 0xA4:
		if cmd.CLA != 0 {
			return iso7816.Response{}, nil, refuse(iso7816.SWCLANotSupported)
		}
		return c.setAT(cmd.Data)
	case cmd.INS == insGeneralAuth:
		if cmd.P1 != 0 || cmd.P2 != 0 {
			return iso7816.Response{}, nil, refuse(iso7816.SWIncorrectP1P2)
		}
		return c.generalAuthenticate(cmd)
	}
	return iso7816.Response{}, nil, refuse(iso7816.SWINSNotSupported)
}

func (c *Card) setAT(data []byte) (iso7816.Response, *securemessaging.CardSession, error) {
	objs, err := tlv.ParseAll(data)
	if err != nil {
		return iso7816.Response{}, nil, refuse(iso7816.SWIncorrectData)
	}
	var oid, ref []byte
	for _, o := range objs {
		switch o.Tag {
		case tagCryptoMechanism:
			oid = o.Value
		case tagPasswordRef:
			ref = o.Value
		case tagDomainParams:
			id := c.p.info.ParameterID
			if id == nil || len(o.Value) != 1 || int(o.Value[0]) != *id {
				return iso7816.Response{}, nil, refuse(iso7816.SWIncorrectData)
			}
		}
	}
	if !bytes.Equal(oid, c.p.oidBytes) || len(ref) != 1 {
		return iso7816.Response{}, nil, refuse(iso7816.SWIncorrectData)
	}
	k, ok := c.keys[PasswordKind(ref[0])]
	if !ok {
		return iso7816.Response{}, nil, refuse(swRefDataNotFound)
	}
	c.st = cardState{step: 1, k: k}
	return iso7816.Response{SW: iso7816.SWOK}, nil, nil
}

func (c *Card) generalAuthenticate(cmd iso7816.Command) (iso7816.Response, *securemessaging.CardSession, error) {
	st := &c.st
	if st.step == 0 {
		return iso7816.Response{}, nil, refuse(iso7816.SWConditionsNotSatisfied)
	}
	n := st.step // the GA number expected: 1..4
	switch {
	case n < 4 && cmd.CLA != claChaining:
		return iso7816.Response{}, nil, refuse(swChainingExpected)
	case n == 4 && cmd.CLA != 0:
		return iso7816.Response{}, nil, refuse(swLastCommandExpected)
	}
	dyn, err := tlv.Unwrap(cmd.Data, tagDynamicAuth)
	if err != nil {
		return iso7816.Response{}, nil, refuse(iso7816.SWIncorrectData)
	}
	p, curve := c.p, c.p.curve
	answer := func(tag tlv.Tag, v []byte) iso7816.Response {
		return iso7816.Response{Data: tlv.Encode(tagDynamicAuth, tlv.Encode(tag, v)), SW: iso7816.SWOK}
	}
	point := func(tag tlv.Tag) (eccurve.Point, error) {
		v, ok, err := tlv.Find(dyn, tag)
		if err != nil || !ok {
			return eccurve.Point{}, refuse(iso7816.SWIncorrectData)
		}
		pt, err := curve.Unmarshal(v)
		if err != nil {
			return eccurve.Point{}, refuse(iso7816.SWIncorrectData)
		}
		return pt, nil
	}
	switch n {
	case 1:
		if len(dyn) != 0 {
			return iso7816.Response{}, nil, refuse(iso7816.SWIncorrectData)
		}
		st.nonce = make([]byte, p.nonceLen())
		if _, err := io.ReadFull(c.rnd, st.nonce); err != nil {
			return iso7816.Response{}, nil, fmt.Errorf("nonce: %w", err)
		}
		z, err := p.encryptNonce(st.k, st.nonce)
		if err != nil {
			return iso7816.Response{}, nil, err
		}
		st.step++
		return answer(tagNonce, z), nil, nil
	case 2:
		peerMap, err := point(tagMapPCD)
		if err != nil {
			return iso7816.Response{}, nil, err
		}
		skMap, err := curve.GenerateScalar(c.rnd)
		if err != nil {
			return iso7816.Response{}, nil, err
		}
		pkMap := curve.ScalarBaseMult(skMap)
		if samePoint(pkMap, peerMap) {
			return iso7816.Response{}, nil, refuse(iso7816.SWIncorrectData)
		}
		if st.gMapped, err = p.mapGeneric(st.nonce, skMap, peerMap); err != nil {
			return iso7816.Response{}, nil, refuse(iso7816.SWIncorrectData)
		}
		st.step++
		return answer(tagMapPICC, curve.Marshal(pkMap)), nil, nil
	case 3:
		peerEph, err := point(tagEphPCD)
		if err != nil {
			return iso7816.Response{}, nil, err
		}
		skEph, err := curve.GenerateScalar(c.rnd)
		if err != nil {
			return iso7816.Response{}, nil, err
		}
		pkEph := curve.ScalarMult(st.gMapped, skEph)
		if samePoint(pkEph, peerEph) {
			return iso7816.Response{}, nil, refuse(iso7816.SWIncorrectData)
		}
		secret, err := p.sharedSecret(skEph, peerEph)
		if err != nil {
			return iso7816.Response{}, nil, refuse(iso7816.SWIncorrectData)
		}
		st.ksEnc, st.ksMAC = p.sessionKeys(secret)
		st.pkEph, st.peerEph = pkEph, peerEph
		st.step++
		return answer(tagEphPICC, curve.Marshal(pkEph)), nil, nil
	default: // 4
		got, ok, err := tlv.Find(dyn, tagTokenPCD)
		if err != nil || !ok {
			return iso7816.Response{}, nil, refuse(iso7816.SWIncorrectData)
		}
		want, err := p.token(st.ksMAC, st.pkEph)
		if err != nil {
			return iso7816.Response{}, nil, err
		}
		if !equalTokens(got, want) {
			// The only place a wrong password shows (§4.4.3.4).
			return iso7816.Response{}, nil, refuse(swWrongPassword)
		}
		tPICC, err := p.token(st.ksMAC, st.peerEph)
		if err != nil {
			return iso7816.Response{}, nil, err
		}
		sess, err := securemessaging.NewCardSession(p.alg, st.ksEnc, st.ksMAC, make([]byte, p.alg.BlockSize()))
		if err != nil {
			return iso7816.Response{}, nil, err
		}
		c.st = cardState{}
		return answer(tagTokenPICC, tPICC), sess, nil
	}
}
