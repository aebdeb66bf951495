package tpmkey

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/vnkiosk/kiosk/provisioning/tpmkey/tpmkeytest"
)

// openSWTPM starts swtpm on stateDir and opens the kiosk key on it. The key
// (and with it the connection) and swtpm are stopped at the end of the test;
// stop them earlier with the returned function, which is idempotent.
func openSWTPM(t *testing.T, stateDir string) (*Key, func()) {
	t.Helper()
	sw := tpmkeytest.Start(t, stateDir)
	conn, err := net.Dial("unix", sw.Sock)
	if err != nil {
		sw.Stop(t)
		t.Fatalf("connect to swtpm: %v", err)
	}
	key, err := Open(&responseConn{Conn: conn})
	if err != nil {
		sw.Stop(t)
		t.Fatalf("Open on swtpm: %v", err)
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
		sw.Stop(t)
	}
	t.Cleanup(stop)
	return key, stop
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
