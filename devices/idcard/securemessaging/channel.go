package securemessaging

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
)

var (
	// ErrMAC means a protected response failed its MAC check. Nothing from the
	// response is used: the data may be forged or the session keys may differ.
	ErrMAC = errors.New("securemessaging: response MAC does not verify")
	// ErrAborted means the card answered 6987 or 6988 without secure messaging:
	// it rejected the protected command and dropped the session.
	ErrAborted = errors.New("securemessaging: card aborted secure messaging")
	// ErrMalformed means a protected response does not have the structure of
	// §9.8 (missing DO'99' or DO'8E', bad padding, unexpected objects).
	ErrMalformed = errors.New("securemessaging: malformed protected response")
	// ErrClosed is returned by every Send after a secure messaging error: the card
	// and the terminal no longer agree on the SSC, so the caller must authenticate
	// again (BAC, PACE) to get a new Channel.
	ErrClosed = errors.New("securemessaging: channel closed after an earlier error, authenticate again")
)

// Channel is the terminal side of a secure messaging session: an iso7816.Sender
// that protects each command and verifies each response. It is safe for concurrent
// use; commands are serialised because each one advances the SSC.
type Channel struct {
	inner iso7816.Sender
	alg   Algorithm

	mu     sync.Mutex
	s      *suite
	broken error // first SM error; later Sends fail with ErrClosed
}

// NewChannel starts a session over inner with the session keys and the initial SSC
// from BAC (§4.3), PACE (§4.4) or Chip Authentication (§6.2). The keys are copied.
func NewChannel(inner iso7816.Sender, alg Algorithm, kenc, kmac, ssc []byte) (*Channel, error) {
	if inner == nil {
		return nil, errors.New("securemessaging: nil inner sender")
	}
	s, err := newSuite(alg, kenc, kmac, ssc)
	if err != nil {
		return nil, err
	}
	return &Channel{inner: inner, alg: alg, s: s}, nil
}

// Algorithm returns the session's cipher.
func (c *Channel) Algorithm() Algorithm { return c.alg }

// Inner returns the unprotected sender below the channel. Chip Authentication
// replaces the session by building a new Channel over it.
func (c *Channel) Inner() iso7816.Sender { return c.inner }

// MaxShortRead is the largest plaintext Ne of a READ BINARY (even INS) whose
// protected response still fits a short APDU (256 data bytes): 0xDF for AES and
// 0xE7 for 3DES. Asking for more forces extended length on the protected command.
func (c *Channel) MaxShortRead() int { return maxShortRead(c.alg) }

// Send protects cmd, sends it and returns the verified, decrypted response whose SW
// is the one authenticated in DO'99'. A plain status-only response other than
// 9000, 6987 and 6988 is passed through with no data: some chips answer errors
// such as 6A82 without secure messaging, and such a status can only deny service,
// never add data. If the inner sender refuses the command with
// iso7816.ErrNeedsExtended the SSC is rolled back and the channel stays usable, so
// the caller can retry with smaller commands. Any other error closes the channel.
func (c *Channel) Send(ctx context.Context, cmd iso7816.Command) (iso7816.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return iso7816.Response{}, fmt.Errorf("%w (first error: %v)", ErrClosed, c.broken)
	}
	if err := ctx.Err(); err != nil {
		return iso7816.Response{}, err
	}
	saved := append([]byte(nil), c.s.ssc...)
	prot, err := c.s.protectCommand(cmd)
	if err != nil {
		c.s.ssc = saved
		return iso7816.Response{}, fmt.Errorf("securemessaging: protect INS %02X: %w", cmd.INS, err)
	}
	resp, err := c.inner.Send(ctx, prot)
	if err != nil {
		if errors.Is(err, iso7816.ErrNeedsExtended) {
			// Nothing reached the card: the counters still agree.
			c.s.ssc = saved
			return iso7816.Response{}, fmt.Errorf("securemessaging: INS %02X: %w", cmd.INS, err)
		}
		c.broken = err
		return iso7816.Response{}, fmt.Errorf("securemessaging: INS %02X: %w", cmd.INS, err)
	}
	out, err := c.s.unprotectResponse(resp)
	if err != nil {
		c.broken = err
		return iso7816.Response{}, fmt.Errorf("securemessaging: INS %02X: %w", cmd.INS, err)
	}
	return out, nil
}

// unprotectResponse verifies and decrypts a response (§9.8), advancing the SSC.
func (s *suite) unprotectResponse(resp iso7816.Response) (iso7816.Response, error) {
	s.incrementSSC()
	if len(resp.Data) == 0 {
		switch resp.SW {
		case iso7816.SWSMDataObjectsMissing, iso7816.SWSMDataObjectsIncorrect:
			return iso7816.Response{}, fmt.Errorf("%w: %w", ErrAborted, &iso7816.StatusError{SW: resp.SW})
		case iso7816.SWOK:
			return iso7816.Response{}, fmt.Errorf("%w: success without DO'99' and DO'8E'", ErrMalformed)
		}
		return iso7816.Response{SW: resp.SW}, nil
	}
	crypt, do99, has99, covered, mac, err := splitProtected(resp.Data, tagStatus)
	if err != nil {
		return iso7816.Response{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if !has99 {
		return iso7816.Response{}, fmt.Errorf("%w: DO'99' missing", ErrMalformed)
	}
	if !s.verifyMAC(mac, covered) {
		return iso7816.Response{}, ErrMAC
	}
	if len(do99) != 2 {
		return iso7816.Response{}, fmt.Errorf("%w: DO'99' of %d bytes", ErrMalformed, len(do99))
	}
	sw := iso7816.SW(uint16(do99[0])<<8 | uint16(do99[1]))
	// The outer SW is not authenticated; a success there must match DO'99', and
	// anything else defers to the authenticated DO'99'.
	if resp.SW == iso7816.SWOK && sw != iso7816.SWOK {
		return iso7816.Response{}, fmt.Errorf("%w: DO'99' status %s differs from outer status 9000", ErrMalformed, sw)
	}
	out := iso7816.Response{SW: sw}
	if crypt.Tag != 0 {
		if out.Data, err = s.decryptObject(crypt); err != nil {
			return iso7816.Response{}, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
	}
	return out, nil
}
