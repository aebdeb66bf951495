package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/kiosktest"

	"golang.org/x/sys/unix"

	"github.com/vnkiosk/kiosk/kiosk/staff"
)

// kiosktest.SyncBuffer is a bytes.Buffer safe to write from the command's goroutine while
// the test reads it.

func waitFor(t *testing.T, b *kiosktest.SyncBuffer, s string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if strings.Count(b.String(), s) > 0 {
			return
		}
	}
	t.Fatalf("no %q in %q", s, b.String())
}

// TestStaffHashPINOnTerminal types the PIN twice into a pseudo-terminal and
// checks that the terminal never echoed it.
func TestStaffHashPINOnTerminal(t *testing.T) {
	t.Parallel()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	defer m.Close()
	var n int
	rc, _ := m.SyscallConn()
	var ierr error
	rc.Control(func(fd uintptr) {
		if ierr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ierr == nil {
			n, ierr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
		}
	})
	if ierr != nil {
		t.Skipf("pty: %v", ierr)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("pty slave: %v", err)
	}
	defer s.Close()

	var out, errOut kiosktest.SyncBuffer
	done := make(chan error, 1)
	go func() { done <- staffHashPIN(context.Background(), s, nil, &out, &errOut) }()
	waitFor(t, &errOut, "PIN: ")
	m.WriteString("2468\n")
	waitFor(t, &errOut, "PIN again: ")
	m.WriteString("2468\n")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ok, err := staff.VerifyPIN(strings.TrimSpace(out.String()), "2468"); !ok || err != nil {
		t.Errorf("printed hash does not verify: %v %v (%q)", ok, err, out.String())
	}
	// Whatever the terminal echoed is waiting on the master.
	m.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	buf := make([]byte, 256)
	k, _ := m.Read(buf)
	if bytes.Contains(buf[:k], []byte("2468")) {
		t.Errorf("the terminal echoed the PIN: %q", buf[:k])
	}
	// Echo is back on for whatever runs next in that terminal.
	tio, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if err != nil || tio.Lflag&unix.ECHO == 0 {
		t.Errorf("echo not restored: %v", err)
	}
}
