// Package barcode owns the kiosk's QR/barcode scanner as a daemon subsystem: it
// opens the scanner, a USB serial (CDC-ACM) one by path or a keyboard-wedge (HID)
// one through evdev, grabbed so its key presses never reach the browser, cuts the
// stream into codes, delivers each code once per repeat window to every
// subscriber as a Scan classified by qrpayload, and keeps reopening the device,
// with backoff, when it is unplugged. Scans carry personal data (the ID card's QR
// holds name, birthday and address), so this package logs kinds and lengths,
// never payloads.
//
// Serial mode is the one to use: it carries the code's bytes unchanged. Keyboard
// mode cannot type Vietnamese (see keywedge), so a card QR read that way keeps
// only its CAN.
package barcode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.bug.st/serial"

	"github.com/vnkiosk/kiosk/devices/barcode/keywedge"
	"github.com/vnkiosk/kiosk/devices/barcode/qrpayload"
	"github.com/vnkiosk/kiosk/kiosk/daemon"
)

// Transport is how the scanner is attached.
type Transport string

// The two transports.
const (
	Serial   Transport = "serial" // USB CDC-ACM or RS-232: bytes, frames end at CR/LF
	Keyboard Transport = "hid"    // keyboard wedge: key presses, frames end at Enter
)

// Options configure a Scanner.
type Options struct {
	// Path is "serial:/dev/ttyACM0" for a serial scanner, or an evdev node, best a
	// stable /dev/input/by-id/usb-...-event-kbd link, for a keyboard-wedge one.
	Path string
	// Baud is the serial line speed, 9600 when 0. CDC-ACM scanners ignore it; real
	// RS-232 ones need it to match.
	Baud int
	// RepeatWindow: the same code read again within this time of its last read is
	// not delivered again. 0 means 2s; negative delivers every read.
	RepeatWindow time.Duration
	Log          *slog.Logger // nil discards
}

// Scan is one code read.
type Scan struct {
	// Payload is the code's text. When Mangled it may not be valid UTF-8.
	Payload string
	Kind    qrpayload.Kind
	Time    time.Time
	// Mangled says the text shows signs of characters lost or changed between the
	// code and here (see keywedge.Frame.Mangled and textLooksMangled).
	Mangled bool
	Via     Transport
	Content qrpayload.Content
}

// LogValue keeps the payload out of logs even when a whole Scan is logged.
func (s Scan) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kind", string(s.Kind)), slog.Int("bytes", len(s.Payload)),
		slog.Bool("mangled", s.Mangled), slog.String("via", string(s.Via)))
}

// ErrKeyboardWedgeText replaces the decoded card of a card QR read in keyboard
// mode: the scanner could not type its Vietnamese letters, so the name and address
// cannot be trusted even when they parse. Content.CAN is kept.
var ErrKeyboardWedgeText = errors.New("card QR read by a keyboard-mode scanner, which cannot type Vietnamese: only its CAN is usable; set the scanner to USB serial (CDC) mode")

// ErrCardTextDamaged replaces the decoded card of a card QR whose text arrived
// damaged (see Scan.Mangled), typically a scanner set to a code page other than
// UTF-8. Content.CAN is kept.
var ErrCardTextDamaged = errors.New("card QR arrived with damaged text (not UTF-8, or control characters): only its CAN is usable; set the scanner to pass UTF-8 through")

// Stats count what the scanner saw since New.
type Stats struct {
	Delivered uint64 // scans handed to subscribers
	Repeats   uint64 // reads suppressed as repeats
	Mangled   uint64 // delivered scans flagged Mangled
	TooLong   uint64 // frames discarded for exceeding the bound
	Abandoned uint64 // partial frames dropped for want of a terminator
	Missed    uint64 // scans a full subscriber buffer lost (the oldest is dropped)
}

const (
	defaultBaud         = 9600
	defaultRepeatWindow = 2 * time.Second
	maxFrame            = 8192 // bytes; a QR code holds at most 7089 characters
	frameGap            = time.Second
	subscriberBuffer    = 16
	serialReadTimeout   = 500 * time.Millisecond
	retryMin            = 100 * time.Millisecond
	retryMax            = 2 * time.Second
	// stableAfter: a device that stays open this long resets the backoff, so one
	// that opens and dies at once (a node udev has not removed yet) does not spin.
	stableAfter = 5 * time.Second
)

var validBauds = []int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200}

// Scanner is the barcode scanner subsystem. It implements daemon.Subsystem and
// daemon.Device.
type Scanner struct {
	opt       Options
	transport Transport
	dev       string // device node
	log       *slog.Logger

	// openKeyboard opens and grabs an evdev node as a stream of raw input_event
	// records; tests replace it, since sandboxes have no /dev/input.
	openKeyboard func(path string) (io.ReadCloser, error)
	layout       keywedge.Layout
	retryMax     time.Duration

	mu      sync.Mutex
	health  daemon.Health
	subs    map[uint64]chan Scan
	nextSub uint64
	closed  bool // Stop ran: no more scans, subscriber channels closed
	cancel  context.CancelFunc
	done    chan struct{}

	delivered, repeats, mangled, tooLong, abandoned, missed atomic.Uint64
}

// New checks the options and returns a scanner that is not yet started.
func New(opt Options) (*Scanner, error) {
	s := &Scanner{
		opt:          opt,
		log:          opt.Log,
		openKeyboard: openEvdev,
		layout:       keywedge.NativeLayout,
		retryMax:     retryMax,
		health:       daemon.Health{State: daemon.StateStarting},
		subs:         make(map[uint64]chan Scan),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.opt.RepeatWindow == 0 {
		s.opt.RepeatWindow = defaultRepeatWindow
	}
	if dev, ok := strings.CutPrefix(opt.Path, "serial:"); ok {
		s.transport, s.dev = Serial, dev
		if s.opt.Baud == 0 {
			s.opt.Baud = defaultBaud
		}
		if !validBaud(s.opt.Baud) {
			return nil, fmt.Errorf("barcode scanner: baud %d is not one of %v", s.opt.Baud, validBauds)
		}
	} else {
		s.transport, s.dev = Keyboard, opt.Path
	}
	if s.dev == "" {
		return nil, errors.New(`barcode scanner: no device path; expected /dev/input/by-id/...-event-kbd or serial:/dev/ttyACM0`)
	}
	return s, nil
}

func validBaud(b int) bool {
	for _, v := range validBauds {
		if b == v {
			return true
		}
	}
	return false
}

// Name implements daemon.Subsystem.
func (s *Scanner) Name() string { return "barcode_scanner" }

// Attachment implements daemon.Device.
func (s *Scanner) Attachment() string {
	if s.transport == Serial {
		return fmt.Sprintf("serial %s at %d baud", s.dev, s.opt.Baud)
	}
	return "keyboard-mode (HID) " + s.dev
}

// Health implements daemon.Subsystem: ok while the device is open, absent while
// it is not plugged in, degraded while it is there but cannot be used (permission,
// another program holding it) or was just lost; the scanner keeps retrying in all
// of these, so a replugged or fixed scanner comes back by itself.
func (s *Scanner) Health() daemon.Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.health
}

// Stats returns the counters.
func (s *Scanner) Stats() Stats {
	return Stats{Delivered: s.delivered.Load(), Repeats: s.repeats.Load(), Mangled: s.mangled.Load(),
		TooLong: s.tooLong.Load(), Abandoned: s.abandoned.Load(), Missed: s.missed.Load()}
}

// Subscribe returns a channel of scans and a function that ends the subscription
// and closes the channel. A subscriber that does not keep up loses its oldest
// scans, never blocks the reader. Stop closes every channel.
func (s *Scanner) Subscribe() (<-chan Scan, func()) {
	ch := make(chan Scan, subscriberBuffer)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		close(ch)
		return ch, func() {}
	}
	id := s.nextSub
	s.nextSub++
	s.subs[id] = ch
	return ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if c, ok := s.subs[id]; ok {
			delete(s.subs, id)
			close(c)
		}
	}
}

// Start implements daemon.Subsystem. It makes the first attempt to open the
// device before returning, so Health is meaningful at once; a missing device is
// not an error (the kiosk serves without a scanner, and the scanner keeps
// looking).
func (s *Scanner) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.cancel != nil || s.closed {
		s.mu.Unlock()
		return errors.New("barcode scanner: started twice")
	}
	// The daemon cancels Start's ctx when Start returns; the reader lives until Stop.
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel, s.done = cancel, make(chan struct{})
	s.mu.Unlock()

	firstTry := make(chan struct{})
	go func() {
		defer close(s.done)
		s.run(rctx, firstTry)
	}()
	select {
	case <-firstTry:
	case <-ctx.Done():
	}
	return nil
}

// Stop implements daemon.Subsystem: it closes the device (releasing the evdev
// grab, so the keyboard types into the desktop again) and closes every
// subscriber's channel.
func (s *Scanner) Stop(ctx context.Context) error {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("barcode scanner: reader did not stop: %w", ctx.Err())
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.health = daemon.Health{State: daemon.StateStopped}
	if !s.closed {
		s.closed = true
		for id, ch := range s.subs {
			delete(s.subs, id)
			close(ch)
		}
	}
	return nil
}

// run opens the device, reads it until it fails, and reopens it with backoff,
// until ctx ends.
func (s *Scanner) run(ctx context.Context, firstTry chan<- struct{}) {
	signalled := false
	tried := func() {
		if !signalled {
			signalled = true
			close(firstTry)
		}
	}
	defer tried()
	filter := newRepeatFilter(s.opt.RepeatWindow)
	delay := retryMin
	for ctx.Err() == nil {
		dev, err := s.open()
		if err != nil {
			s.setHealth(healthForOpenError(s.transport, s.dev, err), err)
			tried()
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, s.retryMax)
			continue
		}
		s.setHealth(daemon.Health{State: daemon.StateOK}, nil)
		tried()
		opened := time.Now()
		// Closing the device is what interrupts a blocked read on Stop.
		stopClose := context.AfterFunc(ctx, func() { dev.Close() })
		err = s.pump(dev, filter)
		stopClose()
		dev.Close()
		if ctx.Err() != nil {
			return
		}
		s.setHealth(daemon.Health{State: daemon.StateDegraded, Reason: fmt.Sprintf("lost the scanner at %s (%v); reopening", s.dev, err)}, err)
		if time.Since(opened) >= stableAfter {
			delay = retryMin
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, s.retryMax)
	}
}

// onceCloser makes Close safe to call from the reader and from Stop.
type onceCloser struct {
	io.ReadCloser
	once sync.Once
	err  error
}

func (c *onceCloser) Close() error {
	c.once.Do(func() { c.err = c.ReadCloser.Close() })
	return c.err
}

func (s *Scanner) open() (io.ReadCloser, error) {
	var rc io.ReadCloser
	var err error
	if s.transport == Serial {
		rc, err = openSerial(s.dev, s.opt.Baud, serialReadTimeout)
	} else {
		rc, err = s.openKeyboard(s.dev)
	}
	if err != nil {
		return nil, err
	}
	return &onceCloser{ReadCloser: rc}, nil
}

// pump reads frames from an open device until it fails; the error says why.
func (s *Scanner) pump(dev io.Reader, filter *repeatFilter) error {
	if s.transport == Serial {
		return s.pumpSerial(dev, filter)
	}
	return s.pumpKeyboard(dev, filter)
}

func (s *Scanner) pumpSerial(dev io.Reader, filter *repeatFilter) error {
	framer := &lineFramer{max: maxFrame, gap: frameGap}
	buf := make([]byte, 4096)
	for {
		n, err := dev.Read(buf)
		if err != nil {
			var pe *serial.PortError
			if errors.As(err, &pe) && pe.Code() == serial.PortClosed {
				// go.bug.st/serial's words for a tty that reads as hung up (unplugged).
				return errors.New("the device hung up")
			}
			return fmt.Errorf("read: %w", err)
		}
		now := time.Now()
		for _, c := range buf[:n] {
			frame, ferr := framer.feed(c, now)
			s.countDiscard(ferr)
			if frame != nil {
				s.deliver(frame, textLooksMangled(frame), now, filter)
			}
		}
	}
}

func (s *Scanner) pumpKeyboard(dev io.Reader, filter *repeatFilter) error {
	records := keywedge.NewRecordReader(dev, s.layout)
	var dec keywedge.Decoder
	dec.MaxLen = maxFrame
	dec.Gap = frameGap
	for {
		e, err := records.Read()
		if err != nil {
			return fmt.Errorf("read input events: %w", err)
		}
		f, ok, derr := dec.Feed(e)
		s.countDiscard(derr)
		if ok {
			s.deliver([]byte(f.Text), f.Mangled, time.Now(), filter)
		}
	}
}

func (s *Scanner) countDiscard(err error) {
	switch {
	case err == nil:
		return
	case errors.Is(err, errLineTooLong), errors.Is(err, keywedge.ErrFrameTooLong):
		s.tooLong.Add(1)
	default:
		s.abandoned.Add(1)
	}
	s.log.Warn("barcode scanner discarded a frame", "via", string(s.transport), "reason", err.Error())
}

// deliver classifies a frame and hands it to every subscriber, unless it repeats.
func (s *Scanner) deliver(frame []byte, mangled bool, at time.Time, filter *repeatFilter) {
	if !filter.admit(frame, at) {
		s.repeats.Add(1)
		return
	}
	payload := string(frame)
	c := qrpayload.Parse(payload)
	if c.Kind == qrpayload.KindCard && c.Err == nil {
		// Pre-filling a form with a name that lost its letters is worse than asking
		// for the card itself: keep only the CAN.
		switch {
		case s.transport == Keyboard:
			c.Card, c.Err = nil, ErrKeyboardWedgeText
		case mangled:
			c.Card, c.Err = nil, ErrCardTextDamaged
		}
	}
	scan := Scan{Payload: payload, Kind: c.Kind, Time: at, Mangled: mangled, Via: s.transport, Content: c}
	s.delivered.Add(1)
	if mangled {
		s.mangled.Add(1)
	}
	s.log.Info("barcode scanned", "scan", scan, "valid", c.Err == nil)

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range s.subs {
		select {
		case ch <- scan:
			continue
		default:
		}
		// Full: drop the oldest, so the subscriber sees the newest when it catches up.
		select {
		case <-ch:
			s.missed.Add(1)
		default:
		}
		select {
		case ch <- scan:
		default:
			s.missed.Add(1)
		}
	}
}

// setHealth records h and logs a change of state or reason.
func (s *Scanner) setHealth(h daemon.Health, cause error) {
	s.mu.Lock()
	old := s.health
	if !s.closed {
		s.health = h
	}
	s.mu.Unlock()
	if old == h {
		return
	}
	switch {
	case h.State == daemon.StateOK:
		s.log.Info("barcode scanner ready", "via", string(s.transport), "device", s.dev)
	default:
		attrs := []any{"via", string(s.transport), "state", string(h.State), "reason", h.Reason}
		if cause != nil {
			attrs = append(attrs, "err", cause.Error())
		}
		s.log.Warn("barcode scanner unavailable", attrs...)
	}
}
