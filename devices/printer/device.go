package printer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vnkiosk/kiosk/devices/printer/escpos"
)

// URI says where the printer is: tcp://HOST:PORT (raw port 9100 of a network
// printer) or usb:/dev/usb/lpN (the kernel's usblp character device). Both are
// plain byte streams in each direction.
type URI struct {
	Scheme string // "tcp" or "usb"
	Addr   string // host:port, or the device path
}

func (u URI) String() string {
	if u.Scheme == "tcp" {
		return "tcp://" + u.Addr
	}
	return "usb:" + u.Addr
}

// ParseURI parses a printer URI.
func ParseURI(s string) (URI, error) {
	switch {
	case strings.HasPrefix(s, "tcp://"):
		v, err := url.Parse(s)
		if err != nil || v.Hostname() == "" || v.Port() == "" || (v.Path != "" && v.Path != "/") || v.User != nil || v.RawQuery != "" {
			return URI{}, fmt.Errorf("printer URI %q: expected tcp://HOST:PORT, e.g. tcp://192.0.2.10:9100", s)
		}
		return URI{Scheme: "tcp", Addr: v.Host}, nil
	case strings.HasPrefix(s, "usb:"):
		p := strings.TrimPrefix(s, "usb:")
		if !filepath.IsAbs(p) {
			return URI{}, fmt.Errorf("printer URI %q: expected usb:/dev/usb/lpN", s)
		}
		return URI{Scheme: "usb", Addr: filepath.Clean(p)}, nil
	}
	return URI{}, fmt.Errorf("printer URI %q: expected tcp://HOST:PORT or usb:/dev/usb/lpN", s)
}

// Conn is the byte stream to a printer. *net.TCPConn and an *os.File of a
// character device (usblp, a pty in tests) both implement it.
type Conn interface {
	io.ReadWriteCloser
	SetWriteDeadline(time.Time) error
}

// Dial opens the byte stream to the printer at u.
func Dial(ctx context.Context, u URI) (Conn, error) {
	switch u.Scheme {
	case "tcp":
		d := net.Dialer{Timeout: 5 * time.Second, KeepAlive: 15 * time.Second}
		c, err := d.DialContext(ctx, "tcp", u.Addr)
		if err != nil {
			return nil, fmt.Errorf("connect to printer %s: %w", u, err)
		}
		return c.(*net.TCPConn), nil
	case "usb":
		// A character device is pollable, so the runtime puts it in
		// non-blocking mode and write deadlines work; O_NOCTTY keeps a
		// tty-like device from becoming the daemon's controlling terminal.
		f, err := os.OpenFile(u.Addr, os.O_RDWR|syscall.O_NOCTTY, 0)
		if err != nil {
			return nil, fmt.Errorf("open printer %s: %w", u, err)
		}
		return f, nil
	}
	return nil, fmt.Errorf("printer URI scheme %q not supported", u.Scheme)
}

// Device is one open session with an ESC/POS printer: status requests, and
// jobs written with a completion fence. It is not safe for concurrent use; the
// Printer's worker owns it.
type Device struct {
	conn      Conn
	in        chan byte
	readErr   error         // set before done closes
	done      chan struct{} // closed when the reader stops
	closing   chan struct{}
	closeOnce sync.Once

	// StatusTimeout bounds the wait for each DLE EOT answer.
	StatusTimeout time.Duration
	// StallAfter is how long a job may make no progress before the stall
	// callback of Print is called (it keeps waiting).
	StallAfter time.Duration
}

// Defaults for Device timeouts.
const (
	DefaultStatusTimeout = 2 * time.Second
	DefaultStallAfter    = 5 * time.Second
)

// ErrNoAnswer means the printer did not answer a status request in time.
var ErrNoAnswer = errors.New("printer did not answer the status request")

// Open connects to the printer at uri.
func Open(ctx context.Context, uri string) (*Device, error) {
	u, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	c, err := Dial(ctx, u)
	if err != nil {
		return nil, err
	}
	return NewDevice(c), nil
}

// NewDevice starts a session on an open byte stream. A goroutine reads
// everything the printer sends, so a status wait never blocks a write and
// stray answers can be discarded.
func NewDevice(c Conn) *Device {
	d := &Device{conn: c, in: make(chan byte, 256), done: make(chan struct{}), closing: make(chan struct{}),
		StatusTimeout: DefaultStatusTimeout, StallAfter: DefaultStallAfter}
	go d.read()
	return d
}

func (d *Device) read() {
	defer close(d.done)
	buf := make([]byte, 64)
	for {
		n, err := d.conn.Read(buf)
		for _, b := range buf[:n] {
			select {
			case d.in <- b:
			case <-d.closing:
				d.readErr = net.ErrClosed
				return
			}
		}
		if err != nil {
			d.readErr = err
			return
		}
		if n == 0 {
			// A device that returns (0, nil) has nothing to say; do not spin.
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// Close ends the session.
func (d *Device) Close() error {
	var err error
	d.closeOnce.Do(func() {
		close(d.closing)
		err = d.conn.Close()
	})
	<-d.done
	return err
}

// drain discards bytes already received: answers to DLE EOT patterns that
// occurred inside image data, which a printer answers like real requests.
func (d *Device) drain() {
	for {
		select {
		case <-d.in:
		default:
			return
		}
	}
}

// next returns the next byte the printer sends, waiting at most timeout.
func (d *Device) next(ctx context.Context, timeout time.Duration) (byte, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case b := <-d.in:
		return b, nil
	case <-d.done:
		// The reader may have queued bytes before it stopped.
		select {
		case b := <-d.in:
			return b, nil
		default:
		}
		return 0, fmt.Errorf("printer connection lost: %w", d.readErr)
	case <-t.C:
		return 0, os.ErrDeadlineExceeded
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Status asks DLE EOT 1 to 4 in turn, each after the previous answer as the
// command reference asks, and decodes the answers.
func (d *Device) Status(ctx context.Context) (escpos.Status, error) {
	d.drain()
	var st escpos.Status
	for _, n := range escpos.StatusKinds {
		if err := d.write(ctx, escpos.StatusRequest(n), nil); err != nil {
			return st, err
		}
		deadline := time.Now().Add(d.StatusTimeout)
		for {
			b, err := d.next(ctx, time.Until(deadline))
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return st, fmt.Errorf("%w (DLE EOT %d)", ErrNoAnswer, n)
			}
			if err != nil {
				return st, err
			}
			// A late GS r answer or noise is skipped; a status answer is
			// taken as the answer to this request.
			if st.Decode(n, b) == nil {
				break
			}
		}
	}
	return st, nil
}

// Print writes a job and waits until the printer has processed all of it: the
// job is followed by GS r 1, which the printer answers only once everything
// before it has left the print buffer. While the printer makes no progress
// (paper out, cover open: it buffers, then stops reading) Print keeps waiting,
// calling stalled each time StallAfter passes without progress, until the job
// completes, the connection fails or ctx ends. It returns the paper sensor
// reading from the fence.
func (d *Device) Print(ctx context.Context, job []byte, stalled func()) (escpos.PaperSensor, error) {
	d.drain()
	var e escpos.Encoder
	e.PaperSensorRequest()
	fence, _ := e.Bytes()
	if err := d.write(ctx, job, stalled); err != nil {
		return escpos.PaperSensor{}, err
	}
	if err := d.write(ctx, fence, stalled); err != nil {
		return escpos.PaperSensor{}, err
	}
	for {
		b, err := d.next(ctx, d.StallAfter)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			if stalled != nil {
				stalled()
			}
			continue
		case err != nil:
			return escpos.PaperSensor{}, err
		}
		// DLE EOT answers triggered by image bytes have bit 4 set; the fence
		// answer has it clear.
		if ps, err := escpos.DecodePaperSensor(b); err == nil {
			return ps, nil
		}
	}
}

// longAgo is a deadline in the past, which makes a blocked write return.
var longAgo = time.Unix(1, 0)

// write sends p, calling stalled whenever StallAfter passes with no byte
// accepted. A timed-out write may have sent part of p; the rest follows.
func (d *Device) write(ctx context.Context, p []byte, stalled func()) error {
	stop := context.AfterFunc(ctx, func() { _ = d.conn.SetWriteDeadline(longAgo) })
	defer stop()
	for len(p) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		deadlines := d.conn.SetWriteDeadline(time.Now().Add(d.StallAfter)) == nil
		n, err := d.conn.Write(p)
		p = p[n:]
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if deadlines && errors.Is(err, os.ErrDeadlineExceeded) {
			if n == 0 && stalled != nil {
				stalled()
			}
			continue
		}
		return fmt.Errorf("write to printer: %w", err)
	}
	_ = d.conn.SetWriteDeadline(time.Time{})
	return nil
}
