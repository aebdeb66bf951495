package securemessaging

import (
	"bytes"
	"context"
	"crypto/cipher"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// exchange is one scripted command/response pair on the wire.
type exchange struct{ cmd, resp string }

// script is a recording fake iso7816.Transport: it asserts that the exact command
// bytes arrive in order and answers the scripted response bytes.
type script struct {
	t  testing.TB
	mu sync.Mutex
	ex []exchange
	n  int
}

func (s *script) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.Helper()
	if s.n >= len(s.ex) {
		s.t.Fatalf("unexpected command %X after the script ended", cmd)
		return nil, fmt.Errorf("script ended")
	}
	e := s.ex[s.n]
	s.n++
	if want := unhex(s.t, e.cmd); !bytes.Equal(cmd, want) {
		s.t.Errorf("command %d:\n got %X\nwant %X", s.n, cmd, want)
	}
	return unhex(s.t, e.resp), nil
}

func (s *script) done() {
	s.t.Helper()
	if s.n != len(s.ex) {
		s.t.Errorf("script: %d of %d exchanges happened", s.n, len(s.ex))
	}
}

// cardTransport is a virtual chip behind a real iso7816.Conn: it parses the wire
// bytes, unwraps with a CardSession, lets app answer the plain command and wraps
// the answer, as the virtual card does.
type cardTransport struct {
	cs   *CardSession
	app  func(iso7816.Command) iso7816.Response
	last []byte
	seen []iso7816.Command // plaintext commands the card received
}

func (c *cardTransport) Transmit(_ context.Context, raw []byte) ([]byte, error) {
	c.last = append([]byte(nil), raw...)
	cmd, err := iso7816.ParseCommand(raw)
	if err != nil {
		return iso7816.Response{SW: iso7816.SWWrongLength}.Bytes(), nil
	}
	plain, err := c.cs.UnwrapCommand(cmd)
	if err != nil {
		var ce *CommandError
		if !errors.As(err, &ce) {
			return nil, err
		}
		return iso7816.Response{SW: ce.SW}.Bytes(), nil
	}
	c.seen = append(c.seen, plain)
	return c.cs.WrapResponse(c.app(plain)).Bytes(), nil
}

func cbcEncrypt(s *suite, iv, dst, src []byte) {
	cipher.NewCBCEncrypter(s.enc, iv).CryptBlocks(dst, src)
}
