package vpcd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// recCard records what the slot asked of it and answers commands with a
// function the test chooses.
type recCard struct {
	atr     []byte
	process func(apdu []byte) []byte

	mu    sync.Mutex
	calls []string
}

func (c *recCard) log(s string) {
	c.mu.Lock()
	c.calls = append(c.calls, s)
	c.mu.Unlock()
}

func (c *recCard) ATR() []byte { c.log("atr"); return c.atr }
func (c *recCard) PowerOn()    { c.log("on") }
func (c *recCard) PowerOff()   { c.log("off") }
func (c *recCard) Reset()      { c.log("reset") }
func (c *recCard) Process(apdu []byte) []byte {
	c.log("apdu")
	return c.process(apdu)
}

func (c *recCard) history() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

// reader is the vpcd end of one connection, written from vpcd's source: it
// sends the 2-byte length and the payload in separate writes, as vpcd does.
type reader struct {
	t    *testing.T
	conn net.Conn
}

func (r reader) send(p []byte) {
	r.t.Helper()
	var hdr [2]byte
	binary.BigEndian.PutUint16(hdr[:], uint16(len(p)))
	if _, err := r.conn.Write(hdr[:]); err != nil {
		r.t.Fatalf("write length: %v", err)
	}
	if _, err := r.conn.Write(p); err != nil {
		r.t.Fatalf("write payload: %v", err)
	}
}

// recv reads one message, or returns the read error.
func (r reader) recv() ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r.conn, hdr[:]); err != nil {
		return nil, err
	}
	p := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	_, err := io.ReadFull(r.conn, p)
	return p, err
}

func (r reader) transact(p []byte) []byte {
	r.t.Helper()
	r.send(p)
	resp, err := r.recv()
	if err != nil {
		r.t.Fatalf("read answer: %v", err)
	}
	return resp
}

// plug starts a listener, inserts card into it and returns both ends.
func plug(t *testing.T, ctx context.Context, card Card, opt ...Option) (*Slot, reader) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s, err := Insert(ctx, ln.Addr().String(), card, opt...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Remove)
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return s, reader{t, conn}
}

func echo(apdu []byte) []byte { return append(slices.Clone(apdu), 0x90, 0x00) }

func TestControlsAndAPDUs(t *testing.T) {
	t.Parallel()
	atr := []byte{0x3B, 0x80, 0x80, 0x01, 0x01}
	long := bytes.Repeat([]byte{0xA5}, 300) // needs the high length byte
	tests := []struct {
		name    string
		send    [][]byte
		answers [][]byte // expected answers, in order, to the messages that have one
		calls   []string
	}{
		// The last ATR request is a barrier: once answered, every control
		// before it has reached the card.
		{"power cycle", [][]byte{{0x00}, {0x01}, {0x02}, {0x04}}, [][]byte{atr}, []string{"off", "on", "reset", "atr"}},
		{"atr", [][]byte{{0x04}}, [][]byte{atr}, []string{"atr"}},
		{"apdu", [][]byte{{0x01}, {0x00, 0xA4, 0x04, 0x0C}}, [][]byte{{0x00, 0xA4, 0x04, 0x0C, 0x90, 0x00}}, []string{"on", "apdu"}},
		{"long apdu", [][]byte{long}, [][]byte{append(slices.Clone(long), 0x90, 0x00)}, []string{"apdu"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			card := &recCard{atr: atr, process: echo}
			s, r := plug(t, context.Background(), card)
			var got [][]byte
			for _, m := range tc.send {
				if len(m) == 1 && m[0] != 0x04 {
					r.send(m)
					continue
				}
				got = append(got, r.transact(m))
			}
			if !slices.EqualFunc(got, tc.answers, bytes.Equal) {
				t.Errorf("answers = % X, want % X", got, tc.answers)
			}
			s.Remove()
			if err := s.Wait(); err != nil {
				t.Errorf("Wait after Remove = %v, want nil", err)
			}
			if h := card.history(); !slices.Equal(h, tc.calls) {
				t.Errorf("card calls = %v, want %v", h, tc.calls)
			}
		})
	}
}

func TestProtocolErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		msg     []byte
		process func([]byte) []byte
	}{
		{"unknown control", []byte{0x07}, echo},
		{"empty message", []byte{}, echo},
		{"answer too long for a frame", []byte{0, 0xB0, 0, 0, 0}, func([]byte) []byte { return make([]byte, 0x10000) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, r := plug(t, context.Background(), &recCard{process: tc.process})
			r.send(tc.msg)
			if _, err := r.recv(); err == nil {
				t.Error("reader got an answer, want the card to hang up")
			}
			err := s.Wait()
			if err == nil || errors.Is(err, ErrDisconnected) {
				t.Errorf("Wait = %v, want a protocol error", err)
			}
		})
	}
}

// TestFraming feeds messages split and coalesced in every way TCP may deliver
// them, and with a slow card; every answer must match its command.
func TestFraming(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		write func(r reader, frames []byte)
		delay time.Duration
	}{
		{"byte by byte", func(r reader, b []byte) {
			for i := range b {
				r.conn.Write(b[i : i+1])
			}
		}, 0},
		{"all at once", func(r reader, b []byte) { r.conn.Write(b) }, 0},
		{"slow card", func(r reader, b []byte) { r.conn.Write(b) }, 50 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			card := &recCard{process: func(a []byte) []byte {
				time.Sleep(tc.delay)
				return echo(a)
			}}
			s, r := plug(t, context.Background(), card)
			var frames []byte
			var cmds [][]byte
			for i := range 4 {
				cmd := []byte{0x00, 0xB0, byte(i), 0x00, byte(i + 1)}
				cmds = append(cmds, cmd)
				frames = binary.BigEndian.AppendUint16(frames, uint16(len(cmd)))
				frames = append(frames, cmd...)
			}
			go tc.write(r, frames)
			for _, cmd := range cmds {
				resp, err := r.recv()
				if err != nil {
					t.Fatal(err)
				}
				if want := echo(cmd); !bytes.Equal(resp, want) {
					t.Fatalf("answer % X, want % X", resp, want)
				}
			}
			s.Remove()
			if err := s.Wait(); err != nil {
				t.Errorf("Wait = %v", err)
			}
		})
	}
}

func TestRemoveInsideProcess(t *testing.T) {
	t.Parallel()
	var slot struct {
		sync.Mutex
		s *Slot
	}
	card := &recCard{process: func(a []byte) []byte {
		slot.Lock()
		defer slot.Unlock()
		slot.s.Remove()
		return echo(a)
	}}
	s, r := plug(t, context.Background(), card)
	slot.Lock()
	slot.s = s
	slot.Unlock()
	r.send([]byte{0x00, 0xB0, 0x00, 0x00, 0x10})
	if resp, err := r.recv(); err == nil {
		t.Fatalf("reader got % X, want the connection closed without an answer", resp)
	}
	if err := s.Wait(); err != nil {
		t.Errorf("Wait = %v, want nil after Remove", err)
	}
}

func TestRemoveDuringSlowProcess(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	release := make(chan struct{})
	card := &recCard{process: func(a []byte) []byte {
		close(entered)
		<-release
		return echo(a)
	}}
	s, r := plug(t, context.Background(), card)
	r.send([]byte{0x00, 0xB0, 0x00, 0x00, 0x10})
	<-entered
	s.Remove()
	// The reader must see the card gone while the card is still busy.
	r.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := r.recv(); !errors.Is(err, io.EOF) {
		t.Errorf("reader read %v, want EOF", err)
	}
	close(release)
	if err := s.Wait(); err != nil {
		t.Errorf("Wait = %v", err)
	}
}

func TestEnds(t *testing.T) {
	t.Parallel()
	t.Run("vpcd closes", func(t *testing.T) {
		t.Parallel()
		s, r := plug(t, context.Background(), &recCard{process: echo})
		r.conn.Close()
		if err := s.Wait(); !errors.Is(err, ErrDisconnected) {
			t.Errorf("Wait = %v, want ErrDisconnected", err)
		}
	})
	t.Run("context ends", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		s, r := plug(t, ctx, &recCard{process: echo})
		cancel()
		select {
		case <-s.Done():
		case <-time.After(2 * time.Second):
			t.Fatal("slot still serving after cancel")
		}
		if err := s.Wait(); err != nil {
			t.Errorf("Wait = %v, want nil", err)
		}
		r.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := r.recv(); !errors.Is(err, io.EOF) {
			t.Errorf("reader read %v, want EOF", err)
		}
	})
}

func TestDialRetry(t *testing.T) {
	t.Parallel()
	// Reserve a port, free it, and only listen on it a little later.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		time.Sleep(200 * time.Millisecond)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			accepted <- nil
			return
		}
		defer ln.Close()
		c, _ := ln.Accept()
		accepted <- c
	}()
	s, err := Insert(context.Background(), addr, &recCard{process: echo})
	if err != nil {
		t.Fatalf("Insert while vpcd starts: %v", err)
	}
	s.Remove()
	if c := <-accepted; c != nil {
		c.Close()
	} else {
		t.Skip("port was taken in between")
	}

	start := time.Now()
	_, err = Insert(context.Background(), addr, &recCard{process: echo}, DialTimeout(150*time.Millisecond))
	if err == nil {
		t.Fatal("Insert with nothing listening succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("gave up after %v, want about 150ms", d)
	}
}

// TestLatency crosses loopback TCP with a reader that writes like vpcd (length
// and payload in two writes, Nagle on): with the defaults each command must
// come back far faster than with kernel-default TCP, where the payload waits
// for the card's delayed ACK.
func TestLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("measures delayed ACKs")
	}
	t.Parallel()
	measure := func(opt ...Option) time.Duration {
		_, r := plug(t, context.Background(), &recCard{process: echo}, opt...)
		r.conn.(*net.TCPConn).SetNoDelay(false) // as vpcd's socket
		var ds []time.Duration
		for range 10 {
			start := time.Now()
			r.transact([]byte{0x00, 0xB0, 0x00, 0x00, 0x08})
			ds = append(ds, time.Since(start))
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	fast := measure()
	slow := measure(KernelDefaultTCP())
	t.Logf("median per APDU: %v with NODELAY+QUICKACK, %v kernel default", fast, slow)
	if fast*4 > slow {
		t.Errorf("NODELAY+QUICKACK median %v is not well below kernel-default %v", fast, slow)
	}
}
