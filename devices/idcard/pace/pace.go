// Package pace owns PACE v2 (Password Authenticated Connection Establishment),
// ICAO 9303 Part 11 §4.4, with ECDH generic mapping (§4.4.3.3.1) on every curve of
// eccurve and 3DES or AES-128/192/256, which is how the CCCD (id-PACE-ECDH-GM-
// AES-CBC-CMAC-128 on brainpoolP256r1) and most eMRTDs are opened with the CAN or
// the MRZ. The terminal side, Establish, runs MSE:Set AT and the four chained
// GENERAL AUTHENTICATE commands (§4.4.4) in the clear, checks every point the chip
// sends, verifies the chip's authentication token and only then returns the secure
// messaging channel. The chip side, Card, plays the same protocol for the virtual
// card. Randomness is injected so that the worked example of Appendix G.1 runs
// through the real code.
package pace

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/securemessaging"
	"github.com/vnkiosk/kiosk/devices/idcard/securityinfo"
	"github.com/vnkiosk/kiosk/devices/idcard/tlv"
)

// ErrAccessDenied matches (errors.Is) every *AccessDeniedError: the card did not
// accept the password.
var ErrAccessDenied = errors.New("pace: access denied")

// AccessDeniedError says the card refused the password. The kiosk shows it as
// "check the CAN/MRZ" rather than as a card fault.
type AccessDeniedError struct {
	Kind PasswordKind
	// SW is the card's status word; zero when the card answered 9000 but its
	// own authentication token did not verify.
	SW iso7816.SW
	// TriesLeft is the retry counter of a 63Cx answer, -1 when unknown.
	TriesLeft int
}

func (e *AccessDeniedError) Error() string {
	switch {
	case e.SW == 0:
		return fmt.Sprintf("pace: the card's authentication token does not verify: wrong %s, or not a genuine card", e.Kind)
	case e.SW == iso7816.SWAuthMethodBlocked:
		return fmt.Sprintf("pace: the %s is blocked on this card (card answered %s)", e.Kind, e.SW)
	case e.SW == iso7816.SWSecurityNotSatisfied:
		return fmt.Sprintf("pace: the card does not accept the %s now, it is blocked or suspended (card answered %s)", e.Kind, e.SW)
	case e.SW == swRefDataNotUsable:
		return fmt.Sprintf("pace: the %s is deactivated on this card (card answered %s)", e.Kind, e.SW)
	case e.TriesLeft >= 0:
		return fmt.Sprintf("pace: wrong %s, %d tries left (card answered %s)", e.Kind, e.TriesLeft, e.SW)
	default:
		return fmt.Sprintf("pace: wrong %s (card answered %s)", e.Kind, e.SW)
	}
}

// Is makes errors.Is(err, ErrAccessDenied) true.
func (e *AccessDeniedError) Is(target error) bool { return target == ErrAccessDenied }

// Unwrap exposes the status word to iso7816.IsStatus.
func (e *AccessDeniedError) Unwrap() error {
	if e.SW == 0 {
		return nil
	}
	return &iso7816.StatusError{SW: e.SW}
}

const (
	swWrongPassword    iso7816.SW = 0x6300 // authentication failed (ISO/IEC 7816-4)
	swRefDataNotUsable iso7816.SW = 0x6984
)

// accessDenied maps the status words by which a chip refuses a password; nil for
// any other.
func accessDenied(kind PasswordKind, sw iso7816.SW) error {
	switch {
	case sw == swWrongPassword:
		return &AccessDeniedError{Kind: kind, SW: sw, TriesLeft: -1}
	case sw&0xFFF0 == iso7816.SWVerificationFailedPrefix:
		return &AccessDeniedError{Kind: kind, SW: sw, TriesLeft: int(sw & 0x0F)}
	case sw == iso7816.SWAuthMethodBlocked, sw == iso7816.SWSecurityNotSatisfied, sw == swRefDataNotUsable:
		return &AccessDeniedError{Kind: kind, SW: sw, TriesLeft: -1}
	}
	return nil
}

// Instructions and tags of §4.4.4.
const (
	insMSE         = 0x22
	insGeneralAuth = 0x86
	claChaining    = 0x10 // ISO/IEC 7816-4 command chaining: more GENERAL AUTHENTICATE follow

	tagDynamicAuth     tlv.Tag = 0x7C
	tagCryptoMechanism tlv.Tag = 0x80 // MSE: protocol OID
	tagPasswordRef     tlv.Tag = 0x83
	tagDomainParams    tlv.Tag = 0x84
	tagNonce           tlv.Tag = 0x80 // GA: encrypted nonce
	tagMapPCD          tlv.Tag = 0x81
	tagMapPICC         tlv.Tag = 0x82
	tagEphPCD          tlv.Tag = 0x83
	tagEphPICC         tlv.Tag = 0x84
	tagTokenPCD        tlv.Tag = 0x85
	tagTokenPICC       tlv.Tag = 0x86
)

// session is what a successful PACE yields.
type session struct {
	alg      securemessaging.Algorithm
	enc, mac []byte
}

// Establish runs PACE over s, which must not apply secure messaging, and returns
// the secure messaging channel over s keyed with KS_Enc and KS_MAC, SSC zero
// (§9.8.2). rnd supplies the terminal's ephemeral keys; nil means crypto/rand.
// A refused password yields an error matching ErrAccessDenied.
func Establish(ctx context.Context, s iso7816.Sender, info securityinfo.PACEInfo, pw Password, rnd io.Reader) (*securemessaging.Channel, error) {
	ss, err := establish(ctx, s, info, pw, rnd)
	if err != nil {
		return nil, err
	}
	return securemessaging.NewChannel(s, ss.alg, ss.enc, ss.mac, make([]byte, ss.alg.BlockSize()))
}

type terminal struct {
	s    iso7816.Sender
	p    *params
	kind PasswordKind
}

func establish(ctx context.Context, s iso7816.Sender, info securityinfo.PACEInfo, pw Password, rnd io.Reader) (*session, error) {
	p, err := resolve(info)
	if err != nil {
		return nil, err
	}
	k, err := pw.key()
	if err != nil {
		return nil, err
	}
	t := &terminal{s: s, p: p, kind: pw.Kind}
	c := p.curve

	if err := t.setAT(ctx); err != nil {
		return nil, err
	}

	// 1. Encrypted nonce.
	z, err := t.generalAuthenticate(ctx, 1, nil, tagNonce)
	if err != nil {
		return nil, err
	}
	nonce, err := p.decryptNonce(k, z)
	clear(k)
	if err != nil {
		return nil, err
	}

	// 2. Generic mapping.
	skMap, err := c.GenerateScalar(rnd)
	if err != nil {
		return nil, fmt.Errorf("pace: mapping key: %w", err)
	}
	pkMap := c.ScalarBaseMult(skMap)
	peerMapBytes, err := t.generalAuthenticate(ctx, 2, tlv.Encode(tagMapPCD, c.Marshal(pkMap)), tagMapPICC)
	if err != nil {
		return nil, err
	}
	peerMap, err := c.Unmarshal(peerMapBytes)
	if err != nil {
		return nil, fmt.Errorf("pace: chip's mapping key: %w", err)
	}
	if samePoint(peerMap, pkMap) {
		return nil, errors.New("pace: chip echoed the terminal's mapping key")
	}
	gMapped, err := p.mapGeneric(nonce, skMap, peerMap)
	clear(nonce)
	clear(skMap)
	if err != nil {
		return nil, err
	}

	// 3. Key agreement on the mapped generator.
	skEph, err := c.GenerateScalar(rnd)
	if err != nil {
		return nil, fmt.Errorf("pace: ephemeral key: %w", err)
	}
	pkEph := c.ScalarMult(gMapped, skEph)
	peerEphBytes, err := t.generalAuthenticate(ctx, 3, tlv.Encode(tagEphPCD, c.Marshal(pkEph)), tagEphPICC)
	if err != nil {
		return nil, err
	}
	peerEph, err := c.Unmarshal(peerEphBytes)
	if err != nil {
		return nil, fmt.Errorf("pace: chip's ephemeral key: %w", err)
	}
	// §4.4.1 3d: the two ephemeral keys must differ, or a reflecting attacker
	// could complete the protocol without the password.
	if samePoint(peerEph, pkEph) {
		return nil, errors.New("pace: chip's ephemeral key equals the terminal's")
	}
	secret, err := p.sharedSecret(skEph, peerEph)
	clear(skEph)
	if err != nil {
		return nil, err
	}
	ksEnc, ksMAC := p.sessionKeys(secret)
	clear(secret)

	// 4. Mutual authentication.
	tPCD, err := p.token(ksMAC, peerEph)
	if err != nil {
		return nil, err
	}
	tPICC, err := t.generalAuthenticate(ctx, 4, tlv.Encode(tagTokenPCD, tPCD), tagTokenPICC)
	if err != nil {
		return nil, err
	}
	want, err := p.token(ksMAC, pkEph)
	if err != nil {
		return nil, err
	}
	if !equalTokens(tPICC, want) {
		return nil, &AccessDeniedError{Kind: pw.Kind, TriesLeft: -1}
	}
	return &session{alg: p.alg, enc: ksEnc, mac: ksMAC}, nil
}

// setAT sends MSE:Set AT (§4.4.4.1). The domain parameter id (tag 84) is sent
// whenever the PACEInfo has one: ICAO requires it only when parameters are
// ambiguous, but some chips insist on it and none are known to refuse it.
func (t *terminal) setAT(ctx context.Context) error {
	data := tlv.Encode(tagCryptoMechanism, t.p.oidBytes)
	data = append(data, tlv.Encode(tagPasswordRef, []byte{byte(t.kind)})...)
	if id := t.p.info.ParameterID; id != nil {
		data = append(data, tlv.Encode(tagDomainParams, []byte{byte(*id)})...)
	}
	resp, err := t.s.Send(ctx, iso7816.Command{INS: insMSE, P1: 0xC1, P2: 0xA4, Data: data})
	if err != nil {
		return fmt.Errorf("pace: MSE:Set AT: %w", err)
	}
	switch sw := resp.SW; {
	case sw == iso7816.SWOK:
		return nil
	case sw&0xFFF0 == iso7816.SWVerificationFailedPrefix && sw != iso7816.SWVerificationFailedPrefix:
		// BSI TR-03110-3 §B.11.1: 63Cx here is a warning carrying the retry
		// counter; the protocol goes on.
		return nil
	default:
		if err := accessDenied(t.kind, sw); err != nil {
			return err
		}
		return fmt.Errorf("pace: MSE:Set AT: %w", resp.Err())
	}
}

// generalAuthenticate sends step n (1..4) with the dynamic authentication data
// object in (nil for the empty 7C of step 1) and returns the value of the data
// object tagged want in the answer. Steps 1 to 3 are chained (CLA 10).
func (t *terminal) generalAuthenticate(ctx context.Context, n int, in []byte, want tlv.Tag) ([]byte, error) {
	cla := byte(claChaining)
	if n == 4 {
		cla = 0
	}
	cmd := iso7816.Command{CLA: cla, INS: insGeneralAuth, Data: tlv.Encode(tagDynamicAuth, in), Ne: iso7816.MaxShortNe}
	resp, err := t.s.Send(ctx, cmd)
	if err != nil {
		return nil, fmt.Errorf("pace: GENERAL AUTHENTICATE %d: %w", n, err)
	}
	if resp.SW != iso7816.SWOK {
		if err := accessDenied(t.kind, resp.SW); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("pace: GENERAL AUTHENTICATE %d: %w", n, resp.Err())
	}
	dyn, err := tlv.Unwrap(resp.Data, tagDynamicAuth)
	if err != nil {
		return nil, fmt.Errorf("pace: GENERAL AUTHENTICATE %d answer: %w", n, err)
	}
	v, ok, err := tlv.Find(dyn, want)
	if err != nil {
		return nil, fmt.Errorf("pace: GENERAL AUTHENTICATE %d answer: %w", n, err)
	}
	if !ok {
		return nil, fmt.Errorf("pace: GENERAL AUTHENTICATE %d answer lacks data object %s", n, want)
	}
	return v, nil
}
