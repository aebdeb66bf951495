package tpmkey

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// swtpm is one run of the swtpm software TPM on a state directory.
type swtpm struct {
	cmd  *exec.Cmd
	sock string        // data channel: raw TPM 2.0 commands over a Unix socket
	out  *bytes.Buffer // swtpm's stdout and stderr; read only after exited
	// exited is closed once swtpm has exited and waitErr is set.
	exited  chan struct{}
	waitErr error
}

// needSWTPM skips the test when swtpm is not installed, unless the build
// requires every tool (KIOSK_REQUIRE_TOOLS=1), so CI cannot pass by skipping.
func needSWTPM(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("swtpm"); err != nil {
		if os.Getenv("KIOSK_REQUIRE_TOOLS") == "1" {
			t.Fatal("needs the Debian package swtpm")
		}
		t.Skip("swtpm not installed (Debian package swtpm)")
	}
}

// openSWTPM starts swtpm on stateDir and opens the kiosk key on it. The key
// (and with it the connection) and swtpm are stopped at the end of the test;
// stop them earlier with the returned function, which is idempotent.
func openSWTPM(t *testing.T, stateDir string) (*Key, func()) {
	t.Helper()
	sw := startSWTPM(t, stateDir)
	conn, err := net.Dial("unix", sw.sock)
	if err != nil {
		sw.stop(t)
		t.Fatalf("connect to swtpm: %v", err)
	}
	key, err := Open(&responseConn{Conn: conn})
	if err != nil {
		sw.stop(t)
		t.Fatalf("Open on swtpm: %v; swtpm said: %s", err, sw.out.String())
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		if err := key.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		sw.stop(t)
	}
	t.Cleanup(stop)
	return key, stop
}

// startSWTPM runs swtpm with its data and control channels on Unix sockets in
// a fresh directory and waits until the data socket accepts. swtpm sends
// TPM2_Startup itself (startup-clear), so the data channel is ready for raw
// TPM 2.0 commands. Unix sockets rather than TCP ports: a port found free by
// listening on :0 can be handed to a parallel test's listener before swtpm
// binds it, and the test then talks TPM to someone else's server.
func startSWTPM(t *testing.T, stateDir string) *swtpm {
	t.Helper()
	sockDir := t.TempDir()
	sw := &swtpm{
		sock:   filepath.Join(sockDir, "tpm.sock"),
		out:    new(bytes.Buffer),
		exited: make(chan struct{}),
	}
	sw.cmd = exec.Command("swtpm", "socket", "--tpm2",
		"--tpmstate", "dir="+stateDir,
		"--server", "type=unixio,path="+sw.sock,
		"--ctrl", "type=unixio,path="+filepath.Join(sockDir, "ctrl.sock"),
		"--flags", "not-need-init,startup-clear")
	sw.cmd.Stdout, sw.cmd.Stderr = sw.out, sw.out
	if err := sw.cmd.Start(); err != nil {
		t.Fatalf("start swtpm: %v", err)
	}
	go func() {
		sw.waitErr = sw.cmd.Wait()
		close(sw.exited)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("unix", sw.sock)
		if err == nil {
			conn.Close() // swtpm serves the next connection once this one is gone
			return sw
		}
		select {
		case <-sw.exited:
			t.Fatalf("swtpm exited (%v): %s", sw.waitErr, sw.out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			sw.stop(t)
			t.Fatalf("swtpm socket %s not accepting after 10s: %v", sw.sock, err)
		}
	}
}

// stop terminates swtpm with SIGTERM, on which it saves its state and exits,
// so a later run on the same directory sees the same TPM.
func (sw *swtpm) stop(t *testing.T) {
	t.Helper()
	select {
	case <-sw.exited:
		return
	default:
	}
	_ = sw.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-sw.exited:
	case <-time.After(10 * time.Second):
		_ = sw.cmd.Process.Kill()
		<-sw.exited
		t.Errorf("swtpm ignored SIGTERM for 10s; killed it. Output: %s", sw.out.String())
	}
}

// responseConn makes a TCP stream look like /dev/tpmrm0 to go-tpm, which reads
// each response with a single Read: TCP may split a response across reads, so
// Read collects one whole response (its size is in the 10-byte header) first.
type responseConn struct {
	net.Conn
	pending []byte
}

func (c *responseConn) Read(p []byte) (int, error) {
	if len(c.pending) == 0 {
		var hdr [10]byte // tag uint16, size uint32, response code uint32
		if _, err := io.ReadFull(c.Conn, hdr[:]); err != nil {
			return 0, err
		}
		size := binary.BigEndian.Uint32(hdr[2:6])
		if size < uint32(len(hdr)) || size > 1<<16 {
			return 0, fmt.Errorf("swtpm: response size %d out of range", size)
		}
		resp := make([]byte, size)
		copy(resp, hdr[:])
		if _, err := io.ReadFull(c.Conn, resp[len(hdr):]); err != nil {
			return 0, err
		}
		c.pending = resp
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}
