// Package vpcd owns the card side of vsmartcard's virtual reader protocol: it
// plugs a simulated smart card into pcscd's "Virtual PCD" reader over TCP, so
// tests and the simulator cross the real PC/SC boundary instead of a fake. The
// virtual card is the TCP client; every message is a 2-byte big-endian length and
// a payload, where a 1-byte payload is a control (power off/on, reset, ATR request)
// and anything longer is a command APDU answered with a response APDU. Closing the
// connection is pulling the card out. It never logs and never puts APDU contents in
// errors.
package vpcd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Card is a simulated smart card. The slot calls it from a single goroutine, one
// message at a time, so an implementation needs no locking of its own unless
// other goroutines touch it too.
type Card interface {
	// ATR returns the Answer To Reset sent when vpcd asks for it.
	ATR() []byte
	PowerOn()
	PowerOff()
	Reset()
	// Process answers one command APDU with a full response APDU (data and
	// SW1-SW2). It may take as long as it likes (a slow card) and may call
	// Remove on its slot to be pulled out instead of answering.
	Process(apdu []byte) []byte
}

// Control bytes vpcd sends as 1-byte messages.
const (
	ctrlPowerOff = 0x00
	ctrlPowerOn  = 0x01
	ctrlReset    = 0x02
	ctrlATR      = 0x04
)

// maxPayload is the largest payload the 16-bit length prefix can carry.
const maxPayload = 0xFFFF

// ErrDisconnected reports that vpcd (pcscd) closed the connection, e.g. because
// pcscd stopped.
var ErrDisconnected = errors.New("vpcd: reader side closed the connection")

// Option changes how Insert connects.
type Option func(*options)

type options struct {
	lowLatency  bool
	dialTimeout time.Duration
}

// KernelDefaultTCP leaves Nagle's algorithm and delayed ACKs on, as a plain TCP
// socket has them. Each APDU then waits for a delayed ACK (about 40 ms on Linux)
// because vpcd writes the length and the payload separately; it exists to measure
// that cost, not for use.
func KernelDefaultTCP() Option { return func(o *options) { o.lowLatency = false } }

// DialTimeout bounds how long Insert keeps retrying while vpcd is not listening
// yet (pcscd opens the port when it loads the driver). The default is 5 s.
func DialTimeout(d time.Duration) Option { return func(o *options) { o.dialTimeout = d } }

// Slot is one inserted virtual card. Its methods are safe for concurrent use.
type Slot struct {
	conn     *net.TCPConn
	card     Card
	opts     options
	raw      syscall.RawConn
	removed  atomic.Bool
	stopOnce sync.Once
	done     chan struct{}
	err      error // set before done is closed
}

// Insert connects card to the vpcd listening at addr (host:port) and serves it
// until ctx ends, Remove is called, or vpcd closes the connection. It retries
// refused connections for the dial timeout, since pcscd may still be starting.
func Insert(ctx context.Context, addr string, card Card, opt ...Option) (*Slot, error) {
	o := options{lowLatency: true, dialTimeout: 5 * time.Second}
	for _, f := range opt {
		f(&o)
	}
	conn, err := dial(ctx, addr, o.dialTimeout)
	if err != nil {
		return nil, err
	}
	s := &Slot{conn: conn, card: card, opts: o, done: make(chan struct{})}
	if err := s.configure(); err != nil {
		conn.Close()
		return nil, err
	}
	stop := context.AfterFunc(ctx, s.close)
	go func() {
		defer stop()
		err := s.serve()
		s.close()
		if s.removed.Load() || ctx.Err() != nil {
			err = nil // the card was pulled on purpose
		}
		s.err = err
		close(s.done)
	}()
	return s, nil
}

func dial(ctx context.Context, addr string, timeout time.Duration) (*net.TCPConn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return c.(*net.TCPConn), nil
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("vpcd: connect to %s: %w", addr, err)
		case <-t.C:
		}
	}
}

// configure sets the socket options that keep one APDU round trip well under a
// millisecond: NODELAY so our response leaves at once, QUICKACK so vpcd's
// second write (the payload after the length) is not held by Nagle on its side
// waiting for our delayed ACK.
func (s *Slot) configure() error {
	if err := s.conn.SetNoDelay(s.opts.lowLatency); err != nil {
		return fmt.Errorf("vpcd: set TCP_NODELAY: %w", err)
	}
	if !s.opts.lowLatency {
		return nil
	}
	raw, err := s.conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("vpcd: raw socket: %w", err)
	}
	s.raw = raw
	return s.quickACK()
}

// Remove pulls the card out: it closes the connection, and pcscd reports the
// card removed. It is idempotent and may be called from inside Card.Process to
// simulate removal in the middle of a command; the pending response is then
// never sent.
func (s *Slot) Remove() {
	s.removed.Store(true)
	s.close()
}

// Wait blocks until the slot stops serving and returns why: nil when the card
// was removed with Remove or the context ended, ErrDisconnected when vpcd went
// away, or a protocol error.
func (s *Slot) Wait() error {
	<-s.done
	return s.err
}

// Done is closed when the slot stops serving.
func (s *Slot) Done() <-chan struct{} { return s.done }

func (s *Slot) close() { s.stopOnce.Do(func() { s.conn.Close() }) }

func (s *Slot) serve() error {
	var hdr [2]byte
	buf := make([]byte, maxPayload)
	for {
		if err := s.readFull(hdr[:]); err != nil {
			return err
		}
		msg := buf[:binary.BigEndian.Uint16(hdr[:])]
		if err := s.readFull(msg); err != nil {
			return err
		}
		switch len(msg) {
		case 0:
			return errors.New("vpcd: empty message from reader")
		case 1:
			if err := s.control(msg[0]); err != nil {
				return err
			}
		default:
			// A copy, so a card that keeps the APDU is not overwritten by the next one.
			resp := s.card.Process(append([]byte(nil), msg...))
			if s.removed.Load() {
				return nil
			}
			if err := s.send(resp); err != nil {
				return err
			}
		}
		clear(msg) // commands carry keys and personal data
	}
}

func (s *Slot) control(b byte) error {
	switch b {
	case ctrlPowerOff:
		s.card.PowerOff()
	case ctrlPowerOn:
		s.card.PowerOn()
	case ctrlReset:
		s.card.Reset()
	case ctrlATR:
		return s.send(s.card.ATR())
	default:
		return fmt.Errorf("vpcd: unknown control byte 0x%02X", b)
	}
	return nil
}

// send writes length and payload in one write so they travel in one segment.
func (s *Slot) send(p []byte) error {
	if len(p) > maxPayload {
		return fmt.Errorf("vpcd: card answer of %d bytes exceeds the %d-byte frame", len(p), maxPayload)
	}
	frame := make([]byte, 2+len(p))
	binary.BigEndian.PutUint16(frame, uint16(len(p)))
	copy(frame[2:], p)
	_, err := s.conn.Write(frame)
	clear(frame)
	if err != nil {
		return s.connErr("write", err)
	}
	return nil
}

func (s *Slot) readFull(p []byte) error {
	for n := 0; n < len(p); {
		m, err := s.conn.Read(p[n:])
		n += m
		if err != nil {
			if errors.Is(err, io.EOF) && n == 0 {
				return ErrDisconnected
			}
			return s.connErr("read", err)
		}
		// The kernel leaves quick-ACK mode on its own, so re-arm it after
		// every read.
		if err := s.quickACK(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Slot) connErr(op string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return fmt.Errorf("vpcd: %s: %w", op, ErrDisconnected)
	}
	return fmt.Errorf("vpcd: %s: %w", op, err)
}

func (s *Slot) quickACK() error {
	if s.raw == nil {
		return nil
	}
	var serr error
	if err := s.raw.Control(func(fd uintptr) { serr = setQuickACK(fd) }); err != nil {
		return fmt.Errorf("vpcd: set TCP_QUICKACK: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("vpcd: set TCP_QUICKACK: %w", serr)
	}
	return nil
}
