package bac

import (
	"bytes"
	"crypto/rand"
	"io"
	"sync"

	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/securemessaging"
)

// swAuthFailed is what chips answer to an EXTERNAL AUTHENTICATE whose cryptogram
// does not verify (ISO/IEC 7816-4 6300, "authentication failed").
const swAuthFailed iso7816.SW = 0x6300

// Card is the chip side of BAC, for the virtual card. It holds the document basic
// access keys and the outstanding challenge; the session keys it derives go into
// the CardSession that Process returns.
type Card struct {
	kenc, kmac []byte
	rnd        io.Reader

	mu        sync.Mutex
	challenge []byte // RND.IC of the last GET CHALLENGE, consumed by EXTERNAL AUTHENTICATE
}

// NewCard returns the chip side of BAC for the MRZ key input keyInput. rnd supplies
// RND.IC at each GET CHALLENGE and K.IC at each successful EXTERNAL AUTHENTICATE
// (nil means crypto/rand).
func NewCard(keyInput string, rnd io.Reader) *Card {
	if rnd == nil {
		rnd = rand.Reader
	}
	kenc, kmac := DeriveKeys(keyInput)
	return &Card{kenc: kenc, kmac: kmac, rnd: rnd}
}

// Handles reports whether ins is one of the two BAC instructions Process answers.
func Handles(ins byte) bool {
	return ins == insGetChallenge || ins == insExternalAuthenticate
}

// Process answers GET CHALLENGE and EXTERNAL AUTHENTICATE. After a successful
// EXTERNAL AUTHENTICATE it also returns the secure messaging session the card must
// use from the next command on; otherwise the session is nil and the card stays as
// it was. A cryptogram made with the wrong MRZ key gets 6300, and every EXTERNAL
// AUTHENTICATE consumes the challenge, so a failed attempt cannot be replayed.
func (c *Card) Process(cmd iso7816.Command) (iso7816.Response, *securemessaging.CardSession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch cmd.INS {
	case insGetChallenge:
		return c.getChallenge(cmd), nil
	case insExternalAuthenticate:
		return c.externalAuthenticate(cmd)
	}
	return iso7816.Response{SW: iso7816.SWINSNotSupported}, nil
}

func (c *Card) getChallenge(cmd iso7816.Command) iso7816.Response {
	c.challenge = nil
	if cmd.P1 != 0 || cmd.P2 != 0 {
		return iso7816.Response{SW: iso7816.SWIncorrectP1P2}
	}
	if len(cmd.Data) != 0 || cmd.Ne != nonceLen {
		return iso7816.Response{SW: iso7816.SWWrongLength}
	}
	ch := make([]byte, nonceLen)
	if _, err := io.ReadFull(c.rnd, ch); err != nil {
		return iso7816.Response{SW: iso7816.SWUnknown}
	}
	c.challenge = ch
	return iso7816.Response{Data: append([]byte(nil), ch...), SW: iso7816.SWOK}
}

func (c *Card) externalAuthenticate(cmd iso7816.Command) (iso7816.Response, *securemessaging.CardSession) {
	rndIC := c.challenge
	c.challenge = nil
	if cmd.P1 != 0 || cmd.P2 != 0 {
		return iso7816.Response{SW: iso7816.SWIncorrectP1P2}, nil
	}
	if len(cmd.Data) != authDataLen {
		return iso7816.Response{SW: iso7816.SWWrongLength}, nil
	}
	if rndIC == nil {
		return iso7816.Response{SW: iso7816.SWConditionsNotSatisfied}, nil
	}
	s, err := verifyAndDecrypt(c.kenc, c.kmac, cmd.Data)
	if err != nil {
		return iso7816.Response{SW: swAuthFailed}, nil
	}
	defer clear(s)
	// S = RND.IFD || RND.IC || K.IFD: the terminal must echo our challenge.
	rndIFD, kIFD := s[:nonceLen], s[2*nonceLen:]
	if !bytes.Equal(s[nonceLen:2*nonceLen], rndIC) {
		return iso7816.Response{SW: swAuthFailed}, nil
	}
	r := make([]byte, cryptogramLen)
	defer clear(r)
	copy(r, rndIC)
	copy(r[nonceLen:], rndIFD)
	if _, err := io.ReadFull(c.rnd, r[2*nonceLen:]); err != nil {
		return iso7816.Response{SW: iso7816.SWUnknown}, nil
	}
	data, err := encryptAndMAC(c.kenc, c.kmac, r)
	if err != nil {
		return iso7816.Response{SW: iso7816.SWUnknown}, nil
	}
	ksenc, ksmac, ssc := sessionKeys(kIFD, r[2*nonceLen:], rndIC, rndIFD)
	session, err := securemessaging.NewCardSession(securemessaging.TripleDES, ksenc, ksmac, ssc)
	if err != nil {
		return iso7816.Response{SW: iso7816.SWUnknown}, nil
	}
	return iso7816.Response{Data: data, SW: iso7816.SWOK}, session
}
