// Package iso7816test owns the recording fake card the protocol packages are
// tested against, in the manner of periph's spitest.Playback: each exchange
// states the exact command bytes the code under test must send and the response
// bytes the card gives back, so a test pins the wire, not an abstraction of it.
package iso7816test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
)

// Playback is an iso7816.Transport that replays a script of exchanges, each a
// pair of hex strings {command, response} (spaces allowed). A command that
// differs from the script, or one past its end, fails the test.
type Playback struct {
	T         testing.TB
	Exchanges [][2]string

	mu sync.Mutex
	n  int
}

// Transmit implements iso7816.Transport.
func (p *Playback) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n >= len(p.Exchanges) {
		p.T.Errorf("unexpected command %X after the script ended", cmd)
		return nil, errors.New("iso7816test: script ended")
	}
	e := p.Exchanges[p.n]
	p.n++
	if want := Unhex(p.T, e[0]); !bytes.Equal(cmd, want) {
		p.T.Errorf("command %d:\n got %X\nwant %X", p.n, cmd, want)
	}
	return Unhex(p.T, e[1]), nil
}

// Done fails the test unless every scripted exchange took place.
func (p *Playback) Done() {
	p.T.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n != len(p.Exchanges) {
		p.T.Errorf("%d of %d scripted exchanges used", p.n, len(p.Exchanges))
	}
}

// Rewind starts the script again, to replay the same exchanges through another
// code path.
func (p *Playback) Rewind() {
	p.mu.Lock()
	p.n = 0
	p.mu.Unlock()
}

// Unhex decodes hex with optional spaces, failing the test on bad input.
func Unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}
