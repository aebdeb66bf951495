//go:build linux

// Package scannersim is a serial (CDC-ACM) barcode scanner without hardware: a
// pseudo-terminal pair whose device end the kiosk opens exactly as it would open
// /dev/ttyACM0, and whose other end this package writes codes into, each ended as
// a real scanner ends it (CR unless told otherwise). Unplug closes both ends, so
// the kiosk sees what it sees when the cable is pulled: its read fails and the
// device node disappears. An optional symlink plays the part of udev's stable
// /dev/serial/by-id name, so a scanner plugged again comes back at the same path.
package scannersim

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Suffixes scanners end a code with.
const (
	CR   = "\r"
	LF   = "\n"
	CRLF = "\r\n"
)

// Options configure a simulated scanner.
type Options struct {
	// Link, when set, is a symlink created to the device end (replacing one left
	// by an earlier run) and removed on Unplug.
	Link string
	// Suffix ends every code; "" means CR.
	Suffix string
}

// Scanner is a plugged-in simulated scanner.
type Scanner struct {
	opt      Options
	ptsPath  string
	mu       sync.Mutex
	ptm, pts *os.File // nil once unplugged
}

// Plug creates the pseudo-terminal pair and, if asked, the link.
func Plug(opt Options) (*Scanner, error) {
	switch opt.Suffix {
	case "":
		opt.Suffix = CR
	case CR, LF, CRLF:
	default:
		return nil, fmt.Errorf("scanner suffix %q: expected CR, LF or CRLF", opt.Suffix)
	}
	ptm, pts, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("create pseudo-terminal: %w", err)
	}
	s := &Scanner{opt: opt, ptsPath: pts.Name(), ptm: ptm, pts: pts}
	if err := s.setUp(); err != nil {
		s.Unplug()
		return nil, err
	}
	return s, nil
}

// setUp makes the device end behave like a USB serial scanner and not a
// terminal: raw, without echo or CR/LF translation, even for bytes that arrive
// before the kiosk configures the port. It also puts the master back into
// non-blocking mode (pty.Open leaves it blocking), so that Unplug interrupts a
// write stuck on a full buffer.
func (s *Scanner) setUp() error {
	var ioctlErr error
	rc, err := s.pts.SyscallConn()
	if err != nil {
		return err
	}
	if err := rc.Control(func(fd uintptr) {
		t, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
		if err != nil {
			ioctlErr = fmt.Errorf("read terminal settings of %s: %w", s.ptsPath, err)
			return
		}
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		t.Cflag = t.Cflag&^(unix.CSIZE|unix.PARENB) | unix.CS8
		t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
		if err := unix.IoctlSetTermios(int(fd), unix.TCSETS, t); err != nil {
			ioctlErr = fmt.Errorf("make %s raw: %w", s.ptsPath, err)
		}
	}); err != nil {
		return err
	}
	if ioctlErr != nil {
		return ioctlErr
	}
	rc, err = s.ptm.SyscallConn()
	if err != nil {
		return err
	}
	if err := rc.Control(func(fd uintptr) { ioctlErr = unix.SetNonblock(int(fd), true) }); err != nil {
		return err
	}
	if ioctlErr != nil {
		return fmt.Errorf("pseudo-terminal master: %w", ioctlErr)
	}
	if s.opt.Link != "" {
		if err := os.Remove(s.opt.Link); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("replace %s: %w", s.opt.Link, err)
		}
		if err := os.Symlink(s.ptsPath, s.opt.Link); err != nil {
			return fmt.Errorf("link the scanner: %w", err)
		}
	}
	return nil
}

// DevicePath is what the kiosk opens: the link if there is one, else the
// pseudo-terminal's device end.
func (s *Scanner) DevicePath() string {
	if s.opt.Link != "" {
		return s.opt.Link
	}
	return s.ptsPath
}

// TTY is the pseudo-terminal's device end, /dev/pts/N.
func (s *Scanner) TTY() string { return s.ptsPath }

// Errors of Scan and Write.
var (
	ErrUnplugged = errors.New("scanner unplugged")
	ErrLineBreak = errors.New("a code cannot contain CR or LF: the kiosk would read it as two")
)

// Scan sends one code followed by the suffix. A code holding CR or LF would
// arrive as two, so it is refused.
func (s *Scanner) Scan(code string) error {
	if strings.ContainsAny(code, "\r\n") {
		return ErrLineBreak
	}
	_, err := s.Write([]byte(code + s.opt.Suffix))
	return err
}

// Write sends raw bytes, as a scanner with a glitch, or a test, might.
func (s *Scanner) Write(p []byte) (int, error) {
	s.mu.Lock()
	ptm := s.ptm
	s.mu.Unlock()
	if ptm == nil {
		return 0, ErrUnplugged
	}
	n, err := ptm.Write(p)
	if errors.Is(err, os.ErrClosed) {
		err = ErrUnplugged
	}
	return n, err
}

// Unplug closes both ends and removes the link; the device node goes away with
// the last reference. It is safe to call more than once.
func (s *Scanner) Unplug() error {
	s.mu.Lock()
	ptm, pts := s.ptm, s.pts
	s.ptm, s.pts = nil, nil
	s.mu.Unlock()
	if ptm == nil {
		return nil
	}
	err := errors.Join(ptm.Close(), pts.Close())
	if s.opt.Link != "" {
		if target, lerr := os.Readlink(s.opt.Link); lerr == nil && target == s.ptsPath {
			err = errors.Join(err, os.Remove(s.opt.Link))
		}
	}
	return err
}
