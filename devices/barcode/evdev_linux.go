package barcode

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// evdev ioctls (linux/input.h), in the generic _IOC encoding of x86, ARM and
// RISC-V.
const (
	eviocgversion = 0x80044501 // _IOR('E', 0x01, int)
	eviocgrab     = 0x40044590 // _IOW('E', 0x90, int)
	eviocsclockid = 0x400445a0 // _IOW('E', 0xa0, int)
)

// grabbedKeyboard is an evdev node opened for reading and grabbed.
type grabbedKeyboard struct{ f *os.File }

// openEvdev opens an evdev keyboard and grabs it (EVIOCGRAB), so the scanner's
// key presses reach only this process, never the kiosk browser. It asks for
// CLOCK_MONOTONIC timestamps, so an NTP step cannot look like a pause inside a
// frame.
//
// It does not use go-evdev's InputDevice: that type keeps its *os.File private,
// so events would arrive already decoded and the record decoder tested in
// keywedge would be off the production path; and its ioctl helpers call
// File.Fd(), which switches the descriptor to blocking mode, after which closing
// it no longer interrupts a pending read and Stop would hang until the next key
// press. Here every ioctl goes through SyscallConn, and the file stays in Go's
// poller.
func openEvdev(path string) (io.ReadCloser, error) {
	f, err := os.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var ioctlErr error
	if err := rc.Control(func(fd uintptr) {
		if _, err := unix.IoctlGetUint32(int(fd), eviocgversion); err != nil {
			ioctlErr = fmt.Errorf("%s: %w (EVIOCGVERSION: %w)", path, errNotInputDevice, err)
			return
		}
		_ = unix.IoctlSetPointerInt(int(fd), eviocsclockid, unix.CLOCK_MONOTONIC) // kernels before 3.4 lack it; realtime then
		if err := unix.IoctlSetInt(int(fd), eviocgrab, 1); err != nil {
			ioctlErr = fmt.Errorf("%s: EVIOCGRAB: %w", path, err)
		}
	}); err != nil {
		ioctlErr = errors.Join(ioctlErr, err)
	}
	if ioctlErr != nil {
		f.Close()
		return nil, ioctlErr
	}
	return &grabbedKeyboard{f: f}, nil
}

func (k *grabbedKeyboard) Read(p []byte) (int, error) { return k.f.Read(p) }

// Close releases the grab before closing. The kernel would release it on close
// anyway; saying so keeps the intent visible in an strace.
func (k *grabbedKeyboard) Close() error {
	if rc, err := k.f.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _ = unix.IoctlSetInt(int(fd), eviocgrab, 0) })
	}
	return k.f.Close()
}
