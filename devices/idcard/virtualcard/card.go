// Package virtualcard owns the virtual Vietnamese chip ID card (CCCD): a card
// personalised from a Document profile that answers like the real one — the
// published EF.CardAccess, PACE-CAN and PACE-MRZ on brainpoolP256r1 with AES
// secure messaging, BAC with the MRZ key, chip authentication with the DG14 key,
// active authentication with the DG15 key, an EF.SOD signed by a testpki Document
// Signer, and the card's quirks (SELECT MF answers 6D00, DG3 6982, DG11 6A82).
// It plugs into pcscd through vpcd (Serve) or straight into the reader in-process
// (Transport), and can misbehave on purpose (Fault) so the kiosk's error paths can
// be tested. Tests, `kioskd --demo` and `kioskctl sim card` use it; three fictional
// sample citizens are built in (Samples).
package virtualcard

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/devices/idcard/activeauth"
	"github.com/vnkiosk/kiosk/devices/idcard/bac"
	"github.com/vnkiosk/kiosk/devices/idcard/chipauth"
	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/lds"
	"github.com/vnkiosk/kiosk/devices/idcard/mrz"
	"github.com/vnkiosk/kiosk/devices/idcard/pace"
	"github.com/vnkiosk/kiosk/devices/idcard/securemessaging"
	"github.com/vnkiosk/kiosk/devices/idcard/testpki"
)

// AAKey is the kind of active authentication key in DG15.
type AAKey string

// Active authentication keys.
const (
	AARSA   AAKey = "rsa"   // RSA-2048, ISO/IEC 9796-2 scheme 1 with SHA-256
	AAECDSA AAKey = "ecdsa" // brainpoolP256r1, plain r||s with SHA-256, announced in DG14
)

// Read sizes.
const (
	// DefaultMaxLe is the largest plaintext a READ BINARY returns with short
	// APDUs, the CCCD's 0xDF: an AES-protected answer then fits 256 bytes.
	DefaultMaxLe = 0xDF
	// MaxExtendedLe is the largest plaintext a READ BINARY returns with
	// extended APDUs and the default for them: its AES-protected answer (DO'87'
	// with padding, DO'99', DO'8E', status) fills the 65535-byte vpcd frame, so a
	// whole 18 KB DG2 comes in one APDU.
	MaxExtendedLe = 65503
	// DefaultSlowDelay is how long FaultSlow makes the card think before each
	// answer when Options.SlowDelay is zero.
	DefaultSlowDelay = 200 * time.Millisecond
)

// Options personalise a Card.
type Options struct {
	// Profile is the citizen; nil means Sample(DefaultSample).
	Profile *idcard.Document
	// PKI signs EF.SOD; the caller picks its flavour. nil means a fresh
	// in-memory testpki.RSA PKI, reachable with Card.PKI.
	PKI *testpki.PKI
	// AAKey is the DG15 key: AARSA (the default) or AAECDSA.
	AAKey AAKey
	// Extended makes the card accept extended-length APDUs and say so in its
	// ATR. Without it an extended APDU gets 6700 and ends secure messaging.
	Extended bool
	// MaxLe bounds the plaintext of one READ BINARY answer; 0 means
	// DefaultMaxLe, or MaxExtendedLe with Extended. A short-APDU answer
	// protected by secure messaging that outgrows 256 bytes is sent in pieces
	// with 61xx and GET RESPONSE, as a chip does.
	MaxLe int
	// Fault makes the card misbehave; see Fault.
	Fault Fault
	// SlowDelay delays every answer by that much; FaultSlow without it means
	// DefaultSlowDelay.
	SlowDelay time.Duration
	// Rand supplies every nonce and key; nil means crypto/rand.
	Rand io.Reader
	// TamperDataGroup, when non-zero, changes that data group after EF.SOD was
	// signed (the low bit of its last byte), as a forger editing a card would:
	// passive authentication must then say invalid with that group mismatched.
	TamperDataGroup int
	// NoSOD leaves EF.SOD out (answers 6A82), for passive authentication's
	// absent state.
	NoSOD bool
}

// ErrRemoved is returned by Transport once the card has been pulled out
// (FaultRemoval) or powered off.
var ErrRemoved = errors.New("virtualcard: the card was removed")

// Card is the virtual CCCD. It implements vpcd.Card and is safe for concurrent
// use: vpcd's goroutine, Transport users and the removal hook may all touch it.
// Personalisation (New) generates the chip's keys and signs EF.SOD; a power-on
// or reset drops the session, the selected application and any half-run
// protocol, as a chip does.
type Card struct {
	opts    Options
	profile *idcard.Document
	pki     *testpki.PKI
	chip    *chip
	can     string
	mrzKey  string
	atr     []byte
	maxLe   int
	delay   time.Duration

	mu          sync.Mutex
	powered     bool
	removed     bool
	appSelected bool
	current     *ef
	sm          *securemessaging.CardSession
	paceCard    *pace.Card
	bacCard     *bac.Card
	caCard      *chipauth.Card
	pending     []byte     // rest of an answer awaiting GET RESPONSE
	pendingSW   iso7816.SW // its final status
	faultArmed  bool       // the command being answered is the one the fault strikes
	faults      int
	onRemove    func()
}

// New personalises a card: it builds the files from the profile, generates the
// chip authentication and active authentication keys and signs EF.SOD. The card
// starts powered on, as if just inserted.
func New(opts Options) (*Card, error) {
	var err error
	profile := opts.Profile
	if profile == nil {
		if profile, err = Sample(DefaultSample); err != nil {
			return nil, err
		}
	}
	if profile, err = Complete(profile); err != nil {
		return nil, err
	}
	if _, err := ParseFault(string(opts.Fault)); err != nil {
		return nil, err
	}
	c := &Card{opts: opts, profile: profile, pki: opts.PKI, powered: true}
	if c.pki == nil {
		if c.pki, err = testpki.New(testpki.RSA); err != nil {
			return nil, fmt.Errorf("virtualcard: %w", err)
		}
	}
	switch {
	case opts.MaxLe < 0 || opts.MaxLe > MaxExtendedLe:
		return nil, fmt.Errorf("virtualcard: MaxLe %d outside 1..%d", opts.MaxLe, MaxExtendedLe)
	case opts.MaxLe > 0:
		c.maxLe = opts.MaxLe
	case opts.Extended:
		c.maxLe = MaxExtendedLe
	default:
		c.maxLe = DefaultMaxLe
	}
	c.delay = opts.SlowDelay
	if opts.Fault == FaultSlow && c.delay == 0 {
		c.delay = DefaultSlowDelay
	}
	if c.chip, err = personalise(profile, c.pki, opts.AAKey, opts.Rand); err != nil {
		return nil, err
	}
	if err := c.chip.forge(opts.TamperDataGroup, opts.NoSOD); err != nil {
		return nil, err
	}
	id := *profile.IDNumber
	c.can = id[len(id)-6:]
	m, err := mrzKeyInput(profile.MRZ)
	if err != nil {
		return nil, err
	}
	c.mrzKey = m
	c.atr = buildATR(opts.Extended)
	if err := c.resetLocked(); err != nil {
		return nil, err
	}
	return c, nil
}

// CAN is the card access number the card answers to: the last 6 digits of the ID
// number.
func (c *Card) CAN() string { return c.can }

// MRZKeyInput is the MRZ information of BAC and PACE-MRZ: document number, date of
// birth and date of expiry with their check digits.
func (c *Card) MRZKeyInput() string { return c.mrzKey }

// Profile returns a copy of the completed profile: exactly the Document a read of
// the card gives back (without verification and statistics).
func (c *Card) Profile() *idcard.Document {
	d, _ := Complete(c.profile) // already complete: this only copies
	return d
}

// PKI returns the PKI whose Document Signer signed EF.SOD.
func (c *Card) PKI() *testpki.PKI { return c.pki }

// File returns a copy of a file's content as the card holds it, and false for a
// file the card does not have (DG11, DG2 without a photo). DG3 is returned
// although the card never serves it.
func (c *Card) File(f lds.File) ([]byte, bool) {
	for _, e := range c.chip.files {
		if e.FID == f.FID {
			return bytes.Clone(e.data), true
		}
	}
	return nil, false
}

// FaultsFired counts how many times the configured fault has struck (FaultSlow
// is not counted: it strikes every APDU).
func (c *Card) FaultsFired() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.faults
}

// SetOnRemove sets what the card calls to pull itself out of its reader when
// FaultRemoval strikes; Serve sets it to the vpcd slot's Remove. It is called
// from Process without the card's lock held. Without a hook the card just stops
// answering, which Transport reports as ErrRemoved.
func (c *Card) SetOnRemove(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onRemove = f
}

// ATR implements vpcd.Card.
func (c *Card) ATR() []byte { return bytes.Clone(c.atr) }

// PowerOn implements vpcd.Card: the card is (re)inserted and starts afresh, also
// after FaultRemoval pulled it out.
func (c *Card) PowerOn() { c.power(true, true) }

// PowerOff implements vpcd.Card.
func (c *Card) PowerOff() { c.power(false, true) }

// Reset implements vpcd.Card: a warm reset ends any session. It does not bring
// back a card that was pulled out.
func (c *Card) Reset() { c.power(true, false) }

func (c *Card) power(on, cold bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed && !cold {
		return
	}
	c.powered, c.removed = on, false
	// The protocol cards were built from valid data in New, so this cannot fail.
	if err := c.resetLocked(); err != nil {
		panic(err)
	}
}

// resetLocked forgets every volatile state: session, selection, protocol runs.
func (c *Card) resetLocked() error {
	c.appSelected, c.current, c.sm = false, nil, nil
	c.pending, c.pendingSW = nil, 0
	var err error
	if c.paceCard, err = pace.NewCard(c.chip.cardAccess.PACE[0], c.can, c.mrzKey, c.opts.Rand); err != nil {
		return fmt.Errorf("virtualcard: PACE: %w", err)
	}
	c.bacCard = bac.NewCard(c.mrzKey, c.opts.Rand)
	if c.caCard, err = chipauth.NewCard(c.chip.caInfo, c.chip.caCurve, c.chip.caKey); err != nil {
		return fmt.Errorf("virtualcard: chip authentication: %w", err)
	}
	return nil
}

// Process implements vpcd.Card: it answers one command APDU. It returns nil when
// the card is not there to answer (removed or powered off).
func (c *Card) Process(apdu []byte) []byte {
	if c.delay > 0 {
		time.Sleep(c.delay)
	}
	c.mu.Lock()
	resp, remove := c.process(apdu)
	hook := c.onRemove
	c.mu.Unlock()
	if remove {
		if hook != nil {
			hook()
		}
		return nil
	}
	return resp
}

// process answers apdu with the lock held; remove reports that the card pulls
// itself out instead of answering.
func (c *Card) process(apdu []byte) (resp []byte, remove bool) {
	if !c.powered || c.removed {
		return nil, false
	}
	sw := func(s iso7816.SW) []byte { return iso7816.Response{SW: s}.Bytes() }
	cmd, err := iso7816.ParseCommand(apdu)
	if err != nil {
		c.dropSession()
		return sw(iso7816.SWWrongLength), false
	}
	if isExtended(apdu) && !c.opts.Extended {
		// A card without extended length refuses it, and a protected command
		// it could not process ends secure messaging.
		c.dropSession()
		return sw(iso7816.SWWrongLength), false
	}
	if cmd.INS == insGetResponse && cmd.CLA&^0x03 == 0 {
		return c.getResponse(cmd), false
	}
	c.pending = nil

	if c.sm == nil {
		if cmd.CLA&claSM != 0 {
			// Secure messaging without a session.
			return sw(iso7816.SWSMDataObjectsIncorrect), false
		}
		r, sess := c.dispatch(cmd, false)
		if sess != nil {
			c.sm = sess
		}
		return c.chain(r, cmd.Ne), false
	}

	inner, err := c.sm.UnwrapCommand(cmd)
	if err != nil {
		// A plain command or a bad MAC ends the session (§9.8).
		c.dropSession()
		var ce *securemessaging.CommandError
		if errors.As(err, &ce) {
			return sw(ce.SW), false
		}
		return sw(iso7816.SWSMDataObjectsIncorrect), false
	}
	r, next := c.dispatch(inner, true)
	strike := c.faultArmed
	c.faultArmed = false
	wrapped := c.sm.WrapResponse(r)
	if next != nil {
		// Chip authentication: this answer under the old keys, then the new.
		c.sm = next
	}
	if strike {
		c.faults++
		switch c.opts.Fault {
		case FaultRemoval:
			c.removed, c.powered = true, false
			c.sm = nil
			return nil, true
		case FaultWrongMAC:
			wrapped.Data = bytes.Clone(wrapped.Data)
			wrapped.Data[len(wrapped.Data)-1] ^= 0x5A // last byte of DO'8E'
		case FaultTruncated:
			wrapped.Data = wrapped.Data[:len(wrapped.Data)/2]
		case FaultGarbage:
			g := make([]byte, len(wrapped.Data))
			if _, err := io.ReadFull(randOrDefault(c.opts.Rand), g); err != nil {
				return sw(iso7816.SWUnknown), false
			}
			wrapped.Data = g
		}
	}
	return c.chain(wrapped, cmd.Ne), false
}

func (c *Card) dropSession() {
	c.sm = nil
	c.pending = nil
}

// chain sends an answer longer than the command's Ne in pieces: the first Ne bytes
// with 61xx, the rest by GET RESPONSE (ISO/IEC 7816-4 §5.3.4). A short protected
// command can only ask for 256 bytes, yet its protected answer may be longer
// (an RSA-2048 signature, or a MaxLe above what fits).
func (c *Card) chain(r iso7816.Response, ne int) []byte {
	if ne <= 0 || len(r.Data) <= ne {
		return r.Bytes()
	}
	c.pending, c.pendingSW = bytes.Clone(r.Data[ne:]), r.SW
	return iso7816.Response{Data: r.Data[:ne], SW: moreData(len(c.pending))}.Bytes()
}

func moreData(n int) iso7816.SW {
	return iso7816.SW(0x6100 | min(n, 256)&0xFF)
}

func (c *Card) getResponse(cmd iso7816.Command) []byte {
	if c.pending == nil {
		return iso7816.Response{SW: iso7816.SWConditionsNotSatisfied}.Bytes()
	}
	if cmd.P1 != 0 || cmd.P2 != 0 {
		return iso7816.Response{SW: iso7816.SWIncorrectP1P2}.Bytes()
	}
	n := min(max(cmd.Ne, 1), len(c.pending))
	out := iso7816.Response{Data: c.pending[:n], SW: c.pendingSW}
	if c.pending = c.pending[n:]; len(c.pending) > 0 {
		out.SW = moreData(len(c.pending))
	} else {
		c.pending = nil
	}
	return out.Bytes()
}

// Instructions (ISO/IEC 7816-4) the card dispatches itself.
const (
	insSelect        = 0xA4
	insReadBinary    = 0xB0
	insGetResponse   = 0xC0
	insInternalAuth  = 0x88
	insGeneralAuth   = 0x86
	insMSE           = 0x22
	claSM            = 0x0C
	p1SelectByDFName = 0x04
)

// aidLDS1 is the eMRTD application (ICAO 9303 Part 10 §3.1).
var aidLDS1 = []byte{0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01}

// dispatch answers an unprotected command (the plain one, or the one secure
// messaging unwrapped when protected is true). It returns the session a completed
// PACE, BAC or chip authentication starts.
func (c *Card) dispatch(cmd iso7816.Command, protected bool) (iso7816.Response, *securemessaging.CardSession) {
	status := func(s iso7816.SW) (iso7816.Response, *securemessaging.CardSession) {
		return iso7816.Response{SW: s}, nil
	}
	switch {
	case cmd.INS == insSelect:
		return c.selectFile(cmd, protected), nil
	case cmd.INS == insReadBinary:
		return c.readBinary(cmd, protected), nil
	case protected && c.caCard.Handles(cmd):
		return c.caCard.Process(cmd)
	case !protected && c.paceCard.Handles(cmd):
		return c.paceCard.Process(cmd)
	case !protected && bac.Handles(cmd.INS):
		return c.bacCard.Process(cmd)
	case cmd.INS == insInternalAuth:
		if !protected {
			return status(iso7816.SWSecurityNotSatisfied)
		}
		return activeauth.Respond(c.chip.aa, cmd), nil
	case cmd.INS == insMSE || cmd.INS == insGeneralAuth:
		// Chip authentication before access, PACE inside a session.
		return status(iso7816.SWConditionsNotSatisfied)
	}
	return status(iso7816.SWINSNotSupported)
}

// selectFile answers SELECT: the LDS1 application by name, EF.CardAccess and the
// application's files by file identifier. The master file itself answers 6D00,
// as on the CCCD.
func (c *Card) selectFile(cmd iso7816.Command, protected bool) iso7816.Response {
	switch cmd.P1 {
	case p1SelectByDFName:
		if !bytes.Equal(cmd.Data, aidLDS1) {
			return iso7816.Response{SW: iso7816.SWFileNotFound}
		}
		c.appSelected, c.current = true, nil
		return iso7816.Response{SW: iso7816.SWOK}
	case 0x00, 0x02:
		if len(cmd.Data) == 0 || bytes.Equal(cmd.Data, []byte{0x3F, 0x00}) {
			return iso7816.Response{SW: iso7816.SWINSNotSupported} // the CCCD quirk
		}
		if len(cmd.Data) != 2 {
			return iso7816.Response{SW: iso7816.SWWrongLength}
		}
		fid := uint16(cmd.Data[0])<<8 | uint16(cmd.Data[1])
		f, sw := c.lookup(func(e *ef) bool { return e.FID == fid }, protected)
		if sw != iso7816.SWOK {
			return iso7816.Response{SW: sw}
		}
		c.current = f
		return iso7816.Response{SW: iso7816.SWOK}
	}
	return iso7816.Response{SW: iso7816.SWIncorrectP1P2}
}

// lookup finds a file and applies its access conditions: EF.CardAccess always,
// the application's files only under secure messaging with the application
// selected, DG3 never.
func (c *Card) lookup(match func(*ef) bool, protected bool) (*ef, iso7816.SW) {
	i := slices.IndexFunc(c.chip.files, match)
	if i < 0 {
		return nil, iso7816.SWFileNotFound
	}
	f := c.chip.files[i]
	switch {
	case f.inMF:
		return f, iso7816.SWOK
	case !protected:
		return nil, iso7816.SWSecurityNotSatisfied
	case !c.appSelected:
		return nil, iso7816.SWFileNotFound
	case f.denied:
		return nil, iso7816.SWSecurityNotSatisfied
	}
	return f, iso7816.SWOK
}

// readBinary answers READ BINARY (even INS) by short file identifier or from the
// current file (ISO/IEC 7816-4 §11.2.3): at most min(Ne, MaxLe) bytes, 6282 when
// the file ends before Ne bytes, 6B00 for an offset at or beyond its end.
func (c *Card) readBinary(cmd iso7816.Command, protected bool) iso7816.Response {
	var f *ef
	var off int
	if cmd.P1&0x80 != 0 {
		if cmd.P1&0x60 != 0 {
			return iso7816.Response{SW: iso7816.SWIncorrectP1P2}
		}
		sfi := cmd.P1 & 0x1F
		var sw iso7816.SW
		if f, sw = c.lookup(func(e *ef) bool { return e.SFI == sfi }, protected); sw != iso7816.SWOK {
			return iso7816.Response{SW: sw}
		}
		c.current, off = f, int(cmd.P2)
	} else {
		if c.current == nil {
			return iso7816.Response{SW: 0x6986} // command not allowed: no current EF
		}
		f, off = c.current, int(cmd.P1)<<8|int(cmd.P2)
		// Access may have been lost since the SELECT (a dropped session).
		if _, sw := c.lookup(func(e *ef) bool { return e == f }, protected); sw != iso7816.SWOK {
			return iso7816.Response{SW: sw}
		}
	}
	if cmd.Ne == 0 {
		return iso7816.Response{SW: iso7816.SWWrongLength}
	}
	if off >= len(f.data) {
		return iso7816.Response{SW: iso7816.SWWrongP1P2}
	}
	left := len(f.data) - off
	n := min(cmd.Ne, c.maxLe, left)
	resp := iso7816.Response{Data: bytes.Clone(f.data[off : off+n]), SW: iso7816.SWOK}
	if n == left && n < cmd.Ne {
		resp.SW = iso7816.SWEndOfFile
	}
	// Faults strike the READ BINARY that carries the middle of DG2, so they hit
	// a long read in its course whatever the chunk size.
	if c.opts.Fault.strikesReads() && f.DataGroup == 2 && off <= len(f.data)/2 && len(f.data)/2 < off+n {
		c.faultArmed = true
	}
	return resp
}

// isExtended reports whether a raw command APDU uses extended length: after the
// header, a zero byte followed by at least two more (ISO/IEC 7816-3 §12.1.3).
func isExtended(apdu []byte) bool {
	return len(apdu) >= 7 && apdu[4] == 0
}

// mrzKeyInput is the BAC and PACE-MRZ key input of a completed profile's MRZ.
func mrzKeyInput(lines []string) (string, error) {
	m, err := mrz.Parse(joinLines(lines))
	if err != nil {
		return "", fmt.Errorf("virtualcard: mrz: %w", err)
	}
	k, err := m.KeyInput()
	if err != nil {
		return "", fmt.Errorf("virtualcard: mrz: %w", err)
	}
	return k, nil
}

func randOrDefault(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}
