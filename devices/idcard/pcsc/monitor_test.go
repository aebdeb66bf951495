package pcsc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ebfe/scard"
)

// fakePCSC imitates pcscd's SCardGetStatusChange: a wait returns as soon as a
// reader's state differs from the caller's current state, with CHANGED set on
// the differing entries and the card event counter in the high 16 bits, the
// PnP pseudo reader carrying the reader count; unknown readers report UNKNOWN.
type fakePCSC struct {
	mu       sync.Mutex
	readers  []string
	cards    map[string][]byte // reader -> ATR of the card in it
	counters map[string]uint32
	down     bool
	wake     chan struct{} // closed and replaced on every change
	contexts int           // established so far
	waits    int           // waits in progress
}

func newFake(readers ...string) *fakePCSC {
	return &fakePCSC{readers: readers, cards: map[string][]byte{}, counters: map[string]uint32{}, wake: make(chan struct{})}
}

func (f *fakePCSC) change(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
	close(f.wake)
	f.wake = make(chan struct{})
}

func (f *fakePCSC) insert(reader string, atr []byte) {
	f.change(func() { f.cards[reader] = atr; f.counters[reader]++ })
}

func (f *fakePCSC) remove(reader string) {
	f.change(func() { delete(f.cards, reader); f.counters[reader]++ })
}

// swap replaces the card between two waits: two events, still present.
func (f *fakePCSC) swap(reader string, atr []byte) {
	f.change(func() { f.cards[reader] = atr; f.counters[reader] += 2 })
}

func (f *fakePCSC) plug(reader string) { f.change(func() { f.readers = append(f.readers, reader) }) }

func (f *fakePCSC) unplug(reader string) {
	f.change(func() {
		f.readers = slices.DeleteFunc(f.readers, func(r string) bool { return r == reader })
		delete(f.cards, reader)
	})
}

func (f *fakePCSC) setDown(down bool) { f.change(func() { f.down = down }) }

func (f *fakePCSC) establish() (statusSource, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, wrap("establish context", "", scard.ErrNoService)
	}
	f.contexts++
	return &fakeContext{f: f, cancelled: make(chan struct{}, 1)}, nil
}

type fakeContext struct {
	f         *fakePCSC
	cancelled chan struct{}
}

func (c *fakeContext) listReaders() ([]string, error) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	if c.f.down {
		return nil, wrap("list readers", "", scard.ErrNoService)
	}
	return slices.Clone(c.f.readers), nil
}

func (c *fakeContext) getStatusChange(states []scard.ReaderState) error {
	f := c.f
	f.mu.Lock()
	f.waits++
	defer func() { f.mu.Lock(); f.waits--; f.mu.Unlock() }()
	f.mu.Unlock()
	for {
		f.mu.Lock()
		if f.down {
			f.mu.Unlock()
			return scard.ErrNoService
		}
		changed := false
		for i := range states {
			rs := &states[i]
			var ev scard.StateFlag
			var atr []byte
			switch {
			case rs.Reader == pnpReader:
				ev = scard.StateFlag(len(f.readers) << 16)
			case !slices.Contains(f.readers, rs.Reader):
				ev = scard.StateUnknown
			case f.cards[rs.Reader] != nil:
				ev = scard.StatePresent | scard.StateFlag(f.counters[rs.Reader]<<16)
				atr = f.cards[rs.Reader]
			default:
				ev = scard.StateEmpty | scard.StateFlag(f.counters[rs.Reader]<<16)
			}
			if ev != rs.CurrentState&^scard.StateChanged {
				ev |= scard.StateChanged
				changed = true
			}
			rs.EventState = ev
			if atr != nil {
				rs.Atr = slices.Clone(atr)
			}
		}
		wake := f.wake
		f.mu.Unlock()
		if changed {
			return nil
		}
		select {
		case <-wake:
		case <-c.cancelled:
			return scard.ErrCancelled
		}
	}
}

func (c *fakeContext) cancel() error {
	select {
	case c.cancelled <- struct{}{}:
	default:
	}
	return nil
}

func (c *fakeContext) release() error { return nil }

// run starts a monitor over f and returns a subscription; the monitor stops
// when the test ends.
func run(t *testing.T, f *fakePCSC, buffer int) (*Monitor, <-chan Event) {
	t.Helper()
	m := newMonitor(buffer, f.establish)
	ch, _ := m.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	return m, ch
}

func ev(k EventKind, reader string, atr ...byte) string {
	if len(atr) > 0 {
		return fmt.Sprintf("%v %s % X", k, reader, atr)
	}
	return fmt.Sprintf("%v %s", k, reader)
}

// expect reads len(want) events and compares them.
func expect(t *testing.T, ch <-chan Event, want ...string) {
	t.Helper()
	var got []string
	for range want {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("channel closed after %q, want %q", got, want)
			}
			got = append(got, ev(e.Kind, e.Reader, e.ATR...))
		case <-time.After(5 * time.Second):
			t.Fatalf("events %q, then nothing; want %q", got, want)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events\n got %q\nwant %q", got, want)
	}
}

func waitHealth(t *testing.T, m *Monitor, ok bool, contains string) Health {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h := m.Health()
		if h.OK == ok && strings.Contains(h.Error, contains) {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("health %+v, want OK=%v with %q", h, ok, contains)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMonitorEvents(t *testing.T) {
	t.Parallel()
	atr1, atr2 := []byte{0x3B, 0x01}, []byte{0x3B, 0x02}
	tests := []struct {
		name  string
		setup func(f *fakePCSC)
		want0 []string // initial state
		act   func(f *fakePCSC)
		want  []string
	}{
		{
			name:  "card present at start",
			setup: func(f *fakePCSC) { f.cards["B"] = atr1; f.counters["B"] = 1 },
			want0: []string{ev(ReaderAdded, "A"), ev(ReaderAdded, "B"), ev(CardInserted, "B", atr1...)},
			act:   func(f *fakePCSC) { f.remove("B") },
			want:  []string{ev(CardRemoved, "B")},
		},
		{
			name:  "insert and remove",
			want0: []string{ev(ReaderAdded, "A"), ev(ReaderAdded, "B")},
			act:   func(f *fakePCSC) { f.insert("A", atr1); f.remove("A"); f.insert("A", atr2) },
			// Waits may coalesce an insert and a removal; the final state
			// and the order must still come out.
			want: nil,
		},
		{
			name:  "swap between waits",
			setup: func(f *fakePCSC) { f.cards["A"] = atr1; f.counters["A"] = 1 },
			want0: []string{ev(ReaderAdded, "A"), ev(ReaderAdded, "B"), ev(CardInserted, "A", atr1...)},
			act:   func(f *fakePCSC) { f.swap("A", atr2) },
			want:  []string{ev(CardRemoved, "A"), ev(CardInserted, "A", atr2...)},
		},
		{
			name:  "reader unplugged with a card, another plugged",
			setup: func(f *fakePCSC) { f.cards["A"] = atr1; f.counters["A"] = 1 },
			want0: []string{ev(ReaderAdded, "A"), ev(ReaderAdded, "B"), ev(CardInserted, "A", atr1...)},
			act:   func(f *fakePCSC) { f.unplug("A"); f.plug("C") },
			want:  []string{ev(CardRemoved, "A"), ev(ReaderRemoved, "A"), ev(ReaderAdded, "C")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake("A", "B")
			if tc.setup != nil {
				tc.setup(f)
			}
			m, ch := run(t, f, 0)
			expect(t, ch, tc.want0...)
			waitHealth(t, m, true, "")
			tc.act(f)
			if tc.want != nil {
				expect(t, ch, tc.want...)
				return
			}
			// Coalescing case: waits may merge an insertion with the removal
			// after it, but events must alternate and end with atr2 present.
			var got []Event
			deadline := time.After(5 * time.Second)
			for {
				select {
				case e := <-ch:
					got = append(got, e)
					continue
				case <-time.After(20 * time.Millisecond):
				case <-deadline:
					t.Fatalf("events %v never settled on atr2 present", got)
				}
				if n := len(got); n > 0 && got[n-1].Kind == CardInserted &&
					slices.Equal(got[n-1].ATR, atr2) && waitIdle(f) && len(ch) == 0 {
					break
				}
			}
			for i, e := range got {
				want := CardInserted
				if i%2 == 1 {
					want = CardRemoved
				}
				if e.Kind != want || e.Reader != "A" {
					t.Fatalf("event %d of %v: want %v A", i, got, want)
				}
			}
		})
	}
}

// waitIdle reports whether the monitor is blocked in a wait with nothing to
// report, i.e. it has caught up with the fake.
func waitIdle(f *fakePCSC) bool {
	time.Sleep(10 * time.Millisecond)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.waits == 1
}

func TestMonitorServiceRestart(t *testing.T) {
	t.Parallel()
	atr := []byte{0x3B, 0x01}
	f := newFake("A", "B")
	f.cards["A"] = atr
	m, ch := run(t, f, 0)
	expect(t, ch, ev(ReaderAdded, "A"), ev(ReaderAdded, "B"), ev(CardInserted, "A", atr...))

	f.setDown(true)
	expect(t, ch, ev(CardRemoved, "A"), ev(ReaderRemoved, "A"), ev(ReaderRemoved, "B"))
	h := waitHealth(t, m, false, "pcscd is not running")
	if h.Readers != 0 {
		t.Errorf("Health.Readers = %d while pcscd is down", h.Readers)
	}

	f.change(func() { f.down = false; f.readers = []string{"B"} })
	expect(t, ch, ev(ReaderAdded, "B"))
	waitHealth(t, m, true, "")
	f.mu.Lock()
	contexts := f.contexts
	f.mu.Unlock()
	if contexts != 2 {
		t.Errorf("established %d contexts, want 2", contexts)
	}
}

func TestMonitorCancel(t *testing.T) {
	t.Parallel()
	f := newFake("A")
	m := newMonitor(0, f.establish)
	ch, _ := m.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	expect(t, ch, ev(ReaderAdded, "A"))
	waitIdle(f)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if _, ok := <-ch; ok {
		t.Error("subscription still open after Run returned")
	}
	if late, _ := m.Subscribe(); late != nil {
		if _, ok := <-late; ok {
			t.Error("subscription after Run returned is open")
		}
	}
	if err := m.Run(context.Background()); err == nil {
		t.Error("second Run succeeded")
	}
	if h := m.Health(); h.OK {
		t.Errorf("Health after stop = %+v", h)
	}
}

func TestLateSubscriberGetsSnapshot(t *testing.T) {
	t.Parallel()
	atr := []byte{0x3B, 0x09}
	f := newFake("B", "A")
	f.cards["B"] = atr
	m, first := run(t, f, 0)
	expect(t, first, ev(ReaderAdded, "B"), ev(ReaderAdded, "A"), ev(CardInserted, "B", atr...))
	if got := m.Readers(); len(got) != 2 || got[0] != "A" || got[1] != "B" {
		t.Errorf("Readers() = %v, want [A B]", got)
	}
	late, cancel := m.Subscribe()
	// The snapshot is in name order, each reader before its card.
	expect(t, late, ev(ReaderAdded, "A"), ev(ReaderAdded, "B"), ev(CardInserted, "B", atr...))
	cancel()
	cancel() // idempotent
	if _, ok := <-late; ok {
		t.Error("cancelled subscription still open")
	}
	f.remove("B")
	expect(t, first, ev(CardRemoved, "B"))
}

func TestSlowSubscriberDropsOldest(t *testing.T) {
	t.Parallel()
	m := newMonitor(3, nil)
	slow, _ := m.Subscribe()
	fast, _ := m.Subscribe()
	got := make(chan []string)
	go func() {
		var names []string
		for e := range fast {
			names = append(names, e.Reader)
		}
		got <- names
	}()
	m.mu.Lock()
	for i := range 10 {
		m.publish(Event{Kind: ReaderAdded, Reader: fmt.Sprint(i)})
	}
	m.mu.Unlock()
	var kept []string
	for range 3 {
		kept = append(kept, (<-slow).Reader)
	}
	if want := []string{"7", "8", "9"}; !slices.Equal(kept, want) {
		t.Errorf("slow subscriber kept %v, want the newest %v", kept, want)
	}
	m.stop()
	names := <-got
	if len(names) == 0 || names[len(names)-1] != "9" {
		t.Errorf("fast subscriber got %v, want it to end with the newest event", names)
	}
	// 7 dropped for the slow one, plus whatever the fast one missed.
	if d := m.Health().Dropped; d != uint64(7+10-len(names)) {
		t.Errorf("Dropped = %d, want %d", d, 7+10-len(names))
	}
}

func TestMonitorATRIsPerSubscriber(t *testing.T) {
	t.Parallel()
	m := newMonitor(0, nil)
	a, _ := m.Subscribe()
	b, _ := m.Subscribe()
	atr := []byte{0x3B, 0x01}
	m.mu.Lock()
	m.publish(Event{Kind: CardInserted, Reader: "R", ATR: atr})
	m.mu.Unlock()
	ea, eb := <-a, <-b
	ea.ATR[0] = 0
	if eb.ATR[0] != 0x3B || atr[0] != 0x3B {
		t.Error("subscribers share the ATR slice")
	}
}

func TestMonitorExclusive(t *testing.T) {
	// Not parallel: it takes the process-wide watcher slot.
	if !watching.CompareAndSwap(false, true) {
		t.Skip("a real Monitor is running")
	}
	defer watching.Store(false)
	m := NewMonitor(0)
	ch, _ := m.Subscribe()
	err := m.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("Run beside another Monitor = %v", err)
	}
	if _, ok := <-ch; ok {
		t.Error("subscription open after a refused Run")
	}
	if errors.Is(err, ErrNoService) {
		t.Error("refused Run reached pcscd")
	}
}
