package pcsc_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/pcsc"
	"github.com/vnkiosk/kiosk/devices/idcard/pcsc/pcsctest"
	"github.com/vnkiosk/kiosk/devices/idcard/vpcd"
)

// These tests cross the real stack: libpcsclite, pcscd, vpcd's driver and a
// virtual card over TCP. They skip without pcscd unless KIOSK_REQUIRE_PCSCD=1.

func TestListReaders(t *testing.T) {
	pcsctest.Require(t)
	t.Parallel()
	c, err := pcsc.Establish()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	r0, r1 := pcsctest.Slots[0].Reader, pcsctest.Slots[1].Reader
	tests := []struct {
		pattern string
		want    []string // must be in the result
		notWant []string
		err     error
	}{
		{"", []string{r0, r1}, nil, nil},
		{"Virtual PCD*", []string{r0, r1}, nil, nil},
		{"Virtual PCD ?? 01", []string{r1}, []string{r0}, nil},
		{r0, []string{r0}, []string{r1}, nil},
		{"No Such Reader*", nil, nil, pcsc.ErrNoReader},
	}
	for _, tc := range tests {
		got, err := c.ListReaders(tc.pattern)
		if !errors.Is(err, tc.err) {
			t.Errorf("ListReaders(%q) error = %v, want %v", tc.pattern, err, tc.err)
			continue
		}
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("ListReaders(%q) = %q, lacks %q", tc.pattern, got, w)
			}
		}
		for _, w := range tc.notWant {
			if slices.Contains(got, w) {
				t.Errorf("ListReaders(%q) = %q, has %q", tc.pattern, got, w)
			}
		}
	}
}

func TestConnectTransmit(t *testing.T) {
	t.Parallel()
	s := pcsctest.AcquireAny(t)
	pcsctest.Insert(t, s, &echoCard{atr: testATR})
	ctx := context.Background()
	c := pcsctest.Connect(t, ctx, s.Reader)
	if !bytes.Equal(c.ATR(), testATR) {
		t.Errorf("ATR = % X, want % X", c.ATR(), testATR)
	}
	if c.Reader() != s.Reader {
		t.Errorf("Reader = %q", c.Reader())
	}
	conn := iso7816.NewConn(c)
	tests := []struct {
		cmd  iso7816.Command
		want []byte
	}{
		{iso7816.Command{INS: 0xA4, P1: 0x04, P2: 0x0C, Data: []byte{0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01}}, nil},
		{iso7816.Command{INS: 0xB0, Data: []byte{1, 2, 3}, Ne: 256}, []byte{1, 2, 3}},
		{iso7816.Command{INS: 0xB0, Data: bytes.Repeat([]byte{0x5A}, 255), Ne: 256}, bytes.Repeat([]byte{0x5A}, 255)},
	}
	err := c.Transaction(ctx, func() error {
		for _, tc := range tests {
			resp, err := conn.Send(ctx, tc.cmd)
			if err != nil {
				return err
			}
			if !resp.OK() || !bytes.Equal(resp.Data, tc.want) {
				t.Errorf("INS %02X: got % X %v, want % X 9000", tc.cmd.INS, resp.Data, resp.SW, tc.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := conn.Stats(); st.APDUs != int64(len(tests)) {
		t.Errorf("sent %d APDUs, want %d", st.APDUs, len(tests))
	}
}

func TestSlowCard(t *testing.T) {
	t.Parallel()
	s := pcsctest.AcquireAny(t)
	pcsctest.Insert(t, s, &echoCard{atr: testATR, delay: 300 * time.Millisecond})
	ctx := context.Background()
	c := pcsctest.Connect(t, ctx, s.Reader)
	for i := range 3 {
		cmd := []byte{0x00, 0xB0, 0x00, 0x00, 0x01, byte(i), 0x00}
		resp, err := c.Transmit(ctx, cmd)
		if err != nil {
			t.Fatalf("command %d: %v", i, err)
		}
		if want := []byte{byte(i), 0x90, 0x00}; !bytes.Equal(resp, want) {
			t.Fatalf("command %d: % X, want % X", i, resp, want)
		}
	}
}

func TestRemoveMidTransaction(t *testing.T) {
	t.Parallel()
	s := pcsctest.AcquireAny(t)
	card := &echoCard{atr: testATR, removeAt: 3}
	card.slot.Store(pcsctest.Insert(t, s, card))
	ctx := context.Background()
	c := pcsctest.Connect(t, ctx, s.Reader)
	sent := 0
	err := c.Transaction(ctx, func() error {
		for range 10 {
			if _, err := c.Transmit(ctx, []byte{0x00, 0xB0, 0x00, 0x00, 0x02, 0x01, 0x02}); err != nil {
				return err
			}
			sent++
		}
		return nil
	})
	if !errors.Is(err, pcsc.ErrCardRemoved) {
		t.Fatalf("Transaction = %v, want ErrCardRemoved", err)
	}
	if sent != 2 {
		t.Errorf("%d commands succeeded before the removal, want 2", sent)
	}
	if _, err := c.Transmit(ctx, []byte{0x00, 0xA4, 0x00, 0x00}); !errors.Is(err, pcsc.ErrCardRemoved) {
		t.Errorf("Transmit after removal = %v, want ErrCardRemoved", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close after removal = %v", err)
	}

	// A new card in the same slot works.
	pcsctest.Insert(t, s, &echoCard{atr: testATR})
	c2 := pcsctest.Connect(t, ctx, s.Reader)
	if resp, err := c2.Transmit(ctx, []byte{0x00, 0xA4, 0x00, 0x00}); err != nil || !bytes.Equal(resp, []byte{0x90, 0x00}) {
		t.Errorf("new card: % X, %v", resp, err)
	}
}

func TestReadersIndependent(t *testing.T) {
	t.Parallel()
	slots := []pcsctest.Slot{pcsctest.Acquire(t, 0), pcsctest.Acquire(t, 1)}
	ctx := context.Background()
	atrs := [][]byte{testATR, {0x3B, 0x81, 0x80, 0x01, 0x4B, 0xCB}} // second: T=1, one historical byte
	cards := make([]*pcsc.Card, 2)
	vslots := make([]*vpcd.Slot, 2)
	for i, s := range slots {
		vslots[i] = pcsctest.Insert(t, s, &echoCard{atr: atrs[i]})
		cards[i] = pcsctest.Connect(t, ctx, s.Reader)
		if !bytes.Equal(cards[i].ATR(), atrs[i]) {
			t.Errorf("%s: ATR % X, want % X", s.Reader, cards[i].ATR(), atrs[i])
		}
	}
	// Both transmit at once, each inside its own transaction.
	var wg sync.WaitGroup
	for i, c := range cards {
		wg.Go(func() {
			err := c.Transaction(ctx, func() error {
				for j := range 20 {
					cmd := []byte{0x00, 0xB0, 0x00, 0x00, 0x02, byte(i), byte(j)}
					resp, err := c.Transmit(ctx, cmd)
					if err != nil {
						return err
					}
					if !bytes.Equal(resp, []byte{byte(i), byte(j), 0x90, 0x00}) {
						t.Errorf("slot %d command %d: % X", i, j, resp)
					}
				}
				return nil
			})
			if err != nil {
				t.Errorf("slot %d: %v", i, err)
			}
		})
	}
	wg.Wait()

	// Pulling the card out of slot 0 leaves slot 1 alone.
	vslots[0].Remove()
	if err := vslots[0].Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := cards[0].Transmit(ctx, []byte{0x00, 0xA4, 0x00, 0x00}); !errors.Is(err, pcsc.ErrCardRemoved) {
		t.Errorf("slot 0 after removal: %v, want ErrCardRemoved", err)
	}
	if _, err := cards[1].Transmit(ctx, []byte{0x00, 0xA4, 0x00, 0x00}); err != nil {
		t.Errorf("slot 1 after slot 0 removal: %v", err)
	}
}

// TestCloseResetsCard checks the reason Close uses SCARD_RESET_CARD: another
// client holding a handle sees the reset, and the card is reset.
func TestCloseResetsCard(t *testing.T) {
	t.Parallel()
	s := pcsctest.AcquireAny(t)
	card := &echoCard{atr: testATR}
	pcsctest.Insert(t, s, card)
	ctx := context.Background()
	other := pcsctest.Connect(t, ctx, s.Reader)
	ours, err := pcsc.Connect(ctx, s.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, resetsBefore := card.count()
	if err := ours.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ours.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := ours.Transmit(ctx, []byte{0x00, 0xA4, 0x00, 0x00}); !errors.Is(err, pcsc.ErrClosed) {
		t.Errorf("Transmit after Close = %v, want ErrClosed", err)
	}
	if _, err := other.Transmit(ctx, []byte{0x00, 0xA4, 0x00, 0x00}); !errors.Is(err, pcsc.ErrCardReset) {
		t.Errorf("other client after our Close = %v, want ErrCardReset", err)
	}
	// The handle was reconnected: the next command goes through.
	if resp, err := other.Transmit(ctx, []byte{0x00, 0xA4, 0x00, 0x00}); err != nil || !bytes.Equal(resp, []byte{0x90, 0x00}) {
		t.Errorf("other client after reconnect = % X, %v", resp, err)
	}
	if _, resets := card.count(); resets <= resetsBefore {
		t.Errorf("card saw %d resets, want more than %d", resets, resetsBefore)
	}
}

// TestTransactionExcludes checks that a second client waits for our
// transaction, that its wait honours its context, and that giving up leaves
// no transaction behind.
func TestTransactionExcludes(t *testing.T) {
	t.Parallel()
	s := pcsctest.AcquireAny(t)
	pcsctest.Insert(t, s, &echoCard{atr: testATR})
	ctx := context.Background()
	holder := pcsctest.Connect(t, ctx, s.Reader)
	waiter := pcsctest.Connect(t, ctx, s.Reader)

	inside := make(chan struct{})
	release := make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- holder.Transaction(ctx, func() error {
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	ran := false
	err := waiter.Transaction(short, func() error { ran = true; return nil })
	if !errors.Is(err, context.DeadlineExceeded) || ran {
		t.Fatalf("Transaction while another holds one = %v (ran %v), want a deadline error", err, ran)
	}
	if _, err := waiter.Transmit(ctx, []byte{0x00, 0xA4, 0x00, 0x00}); !errors.Is(err, pcsc.ErrClosed) {
		t.Errorf("Transmit on the abandoned handle = %v, want ErrClosed", err)
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	// The abandoned start must not keep the card: a third client gets in.
	third := pcsctest.Connect(t, ctx, s.Reader)
	ctx2, cancel2 := context.WithTimeout(ctx, 5*time.Second)
	defer cancel2()
	if err := third.Transaction(ctx2, func() error { return nil }); err != nil {
		t.Errorf("Transaction after the abandoned one = %v", err)
	}
}

// TestMonitor runs the real monitor (one per process, so not in parallel):
// the readers are reported at start, a card's insertion carries its ATR,
// removal follows, and cancel stops it.
func TestMonitor(t *testing.T) {
	s := pcsctest.AcquireAny(t)
	m := pcsc.NewMonitor(0)
	ch, _ := m.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer cancel()

	next := func(kind pcsc.EventKind) pcsc.Event {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case e := <-ch:
				if e.Reader == s.Reader && e.Kind == kind {
					return e
				}
			case <-timeout:
				t.Fatalf("no %v for %q", kind, s.Reader)
			}
		}
	}
	next(pcsc.ReaderAdded)
	if h := m.Health(); !h.OK || h.Readers < 2 {
		t.Errorf("Health = %+v, want OK with both readers", h)
	}
	vs := pcsctest.Insert(t, s, &echoCard{atr: testATR})
	if e := next(pcsc.CardInserted); !bytes.Equal(e.ATR, testATR) {
		t.Errorf("CardInserted ATR = % X, want % X", e.ATR, testATR)
	}
	vs.Remove()
	next(pcsc.CardRemoved)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run still blocked in SCardGetStatusChange after cancel")
	}
	for range ch { // must be closed by now
	}
}

func BenchmarkTransmit(b *testing.B) {
	s := pcsctest.AcquireAny(b)
	pcsctest.Insert(b, s, &echoCard{atr: testATR})
	ctx := context.Background()
	c := pcsctest.Connect(b, ctx, s.Reader)
	cmd := []byte{0x00, 0xB0, 0x00, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x00}
	b.SetBytes(int64(len(cmd) + 10))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Transmit(ctx, cmd); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTransmitLatency measures ten APDUs through pcscd with the virtual card
// on kernel-default TCP and with NODELAY+QUICKACK; the option exists because
// the difference is two orders of magnitude.
func TestTransmitLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("measures delayed ACKs")
	}
	t.Parallel()
	s := pcsctest.AcquireAny(t)
	ctx := context.Background()
	measure := func(opt ...vpcd.Option) time.Duration {
		vs := pcsctest.Insert(t, s, &echoCard{atr: testATR}, opt...)
		c := pcsctest.Connect(t, ctx, s.Reader)
		var ds []time.Duration
		for range 10 {
			start := time.Now()
			if _, err := c.Transmit(ctx, []byte{0x00, 0xB0, 0x00, 0x00, 0x08}); err != nil {
				t.Fatal(err)
			}
			ds = append(ds, time.Since(start))
		}
		c.Close()
		vs.Remove()
		vs.Wait()
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	slow := measure(vpcd.KernelDefaultTCP())
	fast := measure()
	t.Logf("median per APDU through pcscd: %v with NODELAY+QUICKACK, %v kernel default", fast, slow)
	if fast*4 > slow {
		t.Errorf("NODELAY+QUICKACK median %v not well below kernel-default %v", fast, slow)
	}
}
