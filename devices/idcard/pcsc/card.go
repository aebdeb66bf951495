package pcsc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebfe/scard"
	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
)

var _ iso7816.Transport = (*Card)(nil)

// Limits on what Transmit accepts: a 4-byte header at least, and at most the
// longest extended-length APDU (header, 3-byte Lc, 65535 data bytes, 2-byte Le).
const (
	minCommand = 4
	maxCommand = 65544
)

// Card is a connection to the card in one reader. It connects in shared mode
// and takes exclusivity per read with Transaction rather than for the whole
// connection, so a stuck holder cannot lock other clients (diagnostics, a
// restarted daemon) out of the reader for good. Each Card has its own PC/SC
// context, so a blocking call on one card never waits behind another card or
// the Monitor. Methods are safe for concurrent use but serialise on the handle.
type Card struct {
	reader string

	// stranded is set when a caller gave up waiting for BeginTransaction: the
	// waiting goroutine still holds mu and closes the handle when the call
	// returns. Checked before taking mu so nobody queues behind it.
	stranded atomic.Bool
	inTx     atomic.Bool // refuses nested transactions

	mu     sync.Mutex // guards everything below and every call on card
	ctx    *scard.Context
	card   *scard.Card
	atr    []byte
	closed bool
}

// Connect opens the card in reader with T=0 or T=1, whichever it offers (vpcd
// and most contactless readers present T=1). It fails with ErrCardRemoved when
// the reader is empty and ErrReaderGone when the reader is unknown.
func Connect(ctx context.Context, reader string) (*Card, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pcsc: connect to %q: %w", reader, err)
	}
	sc, err := scard.EstablishContext()
	if err != nil {
		return nil, wrap("establish context", "", err)
	}
	h, err := sc.Connect(reader, scard.ShareShared, scard.ProtocolAny)
	if err != nil {
		sc.Release()
		return nil, wrap("connect", reader, err)
	}
	c := &Card{reader: reader, ctx: sc, card: h}
	if err := c.refreshATR(); err != nil {
		h.Disconnect(scard.LeaveCard)
		sc.Release()
		return nil, err
	}
	return c, nil
}

// Reader returns the reader name the card was opened in.
func (c *Card) Reader() string { return c.reader }

// ATR returns the card's Answer To Reset as read at connect (or reconnect).
func (c *Card) ATR() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.atr...)
}

func (c *Card) refreshATR() error {
	st, err := c.card.Status()
	if err != nil {
		return wrap("status", c.reader, err)
	}
	c.atr = append([]byte(nil), st.Atr...)
	return nil
}

// lock takes c.mu unless the handle is stranded or closed.
func (c *Card) lock() error {
	if c.stranded.Load() {
		return fmt.Errorf("pcsc: %q: handle given up after a cancelled transaction start: %w", c.reader, ErrClosed)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// Transmit sends one command APDU and returns the response APDU; it implements
// iso7816.Transport. The context is checked before sending: PC/SC cannot abort a
// command once it reached the reader, whose driver bounds its duration. When
// another application has reset the card, the handle is reconnected and
// ErrCardReset returned rather than the command retried: a reset destroys the
// secure messaging session, so the caller must restart its read.
func (c *Card) Transmit(ctx context.Context, command []byte) ([]byte, error) {
	if n := len(command); n < minCommand || n > maxCommand {
		return nil, fmt.Errorf("pcsc: transmit: command of %d bytes outside %d..%d", n, minCommand, maxCommand)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pcsc: transmit: %w", err)
	}
	if err := c.lock(); err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	resp, err := c.card.Transmit(command)
	if err != nil {
		return nil, c.classify(ctx, "transmit", err)
	}
	if len(resp) < 2 {
		// vpcd answers a command whose card vanished with an empty response.
		return nil, c.classify(ctx, "transmit", fmt.Errorf("response of %d bytes has no status word", len(resp)))
	}
	// scard hands back a slice of a 64 KiB buffer: copy the answer out and
	// wipe the buffer, so keys and personal data do not linger in garbage.
	out := append([]byte(nil), resp...)
	clear(resp[:cap(resp)])
	return out, nil
}

// removalGrace bounds how long a failed command waits for pcscd to notice
// that the card was pulled. pcscd learns it by polling readers without
// interrupt support (vpcd among them) every 400 ms, and until then reports a
// card pulled mid-command as an empty answer or SCARD_E_NOT_TRANSACTED.
const removalGrace = time.Second

// classify wraps a failed call on the handle. After a reset it reconnects so
// the handle is usable again. A transport failure that is not yet a removal is
// checked against pcscd's view for up to removalGrace, so a card pulled
// mid-command surfaces as ErrCardRemoved and not as an obscure PC/SC code.
func (c *Card) classify(ctx context.Context, op string, err error) error {
	if errors.Is(err, scard.ErrResetCard) {
		if rerr := c.card.Reconnect(scard.ShareShared, scard.ProtocolAny, scard.LeaveCard); rerr != nil {
			return errors.Join(wrap(op, c.reader, err), wrap("reconnect", c.reader, rerr))
		}
		if rerr := c.refreshATR(); rerr != nil {
			return errors.Join(wrap(op, c.reader, err), rerr)
		}
		return wrap(op, c.reader, err)
	}
	werr := wrap(op, c.reader, err)
	if kind(codeOf(err)) != nil || serviceLost(err) {
		return werr
	}
	deadline := time.Now().Add(removalGrace)
	for {
		if _, serr := c.card.Status(); serr != nil && kind(codeOf(serr)) != nil {
			// The removal is the cause worth reporting; the transport
			// failure was its symptom.
			return wrap(op, c.reader, serr)
		}
		if time.Now().After(deadline) {
			return werr
		}
		select {
		case <-ctx.Done():
			return werr
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func codeOf(err error) scard.Error {
	var c scard.Error
	errors.As(err, &c)
	return c
}

// Transaction runs fn while holding a PC/SC transaction on the card, so no other
// PC/SC client can send commands between ours: a secure messaging session
// tolerates no foreign APDU in its counter sequence. fn uses Transmit as usual.
// A reset before the transaction starts is harmless (nothing of ours was on the
// card yet), so the handle is reconnected and the start retried once.
//
// Starting a transaction waits while another process holds one. If ctx ends
// first, Transaction returns and the handle is given up: pcsc-lite cannot
// cancel that wait, so the Card is unusable afterwards and must be closed.
func (c *Card) Transaction(ctx context.Context, fn func() error) (err error) {
	if !c.inTx.CompareAndSwap(false, true) {
		return errors.New("pcsc: transaction already in progress on this card")
	}
	defer c.inTx.Store(false)
	if err := c.lock(); err != nil {
		return err
	}
	c.mu.Unlock()

	if err := c.begin(ctx); err != nil {
		return err
	}
	// Deferred so a panicking fn does not leave other clients locked out.
	defer func() {
		if eerr := c.end(); err == nil {
			err = eerr // a card pulled during fn shows up here if fn did not notice
		}
	}()
	return fn()
}

func (c *Card) end() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	if err := c.card.EndTransaction(scard.LeaveCard); err != nil {
		return c.classify(context.Background(), "end transaction", err)
	}
	return nil
}

func (c *Card) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pcsc: begin transaction: %w", err)
	}
	// handoff decides, under hmu, whether the caller takes the result or has
	// given up and left the cleanup to the goroutine.
	var (
		hmu      sync.Mutex
		finished bool
		gaveUp   bool
		result   error
	)
	signal := make(chan struct{})
	go func() {
		defer close(signal)
		c.mu.Lock()
		defer c.mu.Unlock()
		err := c.card.BeginTransaction()
		if errors.Is(err, scard.ErrResetCard) {
			if err = c.card.Reconnect(scard.ShareShared, scard.ProtocolAny, scard.LeaveCard); err == nil {
				if err = c.refreshATR(); err == nil {
					err = c.card.BeginTransaction()
				}
			}
		}
		hmu.Lock()
		defer hmu.Unlock()
		if gaveUp {
			// Release the card so it does not keep other clients out.
			if err == nil {
				c.card.EndTransaction(scard.LeaveCard)
			}
			c.release()
			return
		}
		finished, result = true, err
	}()
	select {
	case <-signal:
	case <-ctx.Done():
		hmu.Lock()
		if !finished {
			gaveUp = true
			c.stranded.Store(true)
			hmu.Unlock()
			return fmt.Errorf("pcsc: begin transaction on %q: %w", c.reader, ctx.Err())
		}
		hmu.Unlock()
		<-signal
	}
	return wrap("begin transaction", c.reader, result)
}

// Close ends the connection with SCARD_RESET_CARD. The reset is deliberate:
// after PACE or BAC the chip holds an authenticated secure messaging session
// with its access rights granted. Leaving the card as it is would let the next
// PC/SC client, in this process or another, find the chip in that state;
// resetting makes the chip drop the session keys and access rights, so nothing
// we established outlives our read and every read starts from a clean card.
// Close is idempotent; a card already pulled out is not an error.
func (c *Card) Close() error {
	if c.stranded.Load() {
		return nil // the stranded goroutine closes the handle
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.release()
}

// release disconnects and releases the context, under c.mu.
func (c *Card) release() error {
	if c.closed {
		return nil
	}
	c.closed = true
	var errs []error
	if err := c.card.Disconnect(scard.ResetCard); err != nil && kind(codeOf(err)) == nil {
		errs = append(errs, wrap("disconnect", c.reader, err))
	}
	if err := c.ctx.Release(); err != nil && !serviceLost(err) {
		errs = append(errs, wrap("release context", "", err))
	}
	return errors.Join(errs...)
}
