package pcsc

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebfe/scard"
)

// EventKind says what happened in a reader.
type EventKind uint8

// Event kinds, in the order a subscriber sees them for one reader: a reader is
// added before any card event in it, and a present card is removed before its
// reader is.
const (
	ReaderAdded EventKind = iota + 1
	ReaderRemoved
	CardInserted
	CardRemoved
)

func (k EventKind) String() string {
	switch k {
	case ReaderAdded:
		return "ReaderAdded"
	case ReaderRemoved:
		return "ReaderRemoved"
	case CardInserted:
		return "CardInserted"
	case CardRemoved:
		return "CardRemoved"
	}
	return "EventKind(?)"
}

// Event is one change in a reader. ATR is set for CardInserted only, and is
// empty for a mute card (present but not answering the reset); each
// subscriber gets its own copy.
type Event struct {
	Kind   EventKind
	Reader string
	ATR    []byte
}

// Health is the monitor's state for the daemon's health report.
type Health struct {
	OK      bool   // watching pcscd
	Error   string // why not, when !OK
	Readers int    // readers currently known
	Dropped uint64 // events dropped for slow subscribers since start
}

// DefaultBuffer is the per-subscriber queue length when NewMonitor is given
// none: far more than one card insertion and removal produce, so only a
// subscriber that stopped reading loses events.
const DefaultBuffer = 64

// Backoff between attempts to reach pcscd after it went away.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// pnpReader is the pseudo reader whose state changes when a reader is plugged
// in or out.
const pnpReader = `\\?PnP?\Notification`

// watching makes at most one Monitor per process call SCardGetStatusChange.
// github.com/ebfe/scard keeps the C copy of each reader name alive in a global
// map keyed by name; a second concurrent call with the same name replaces that
// entry, and the garbage collector may then free the string the first call is
// still reading inside pcsc-lite.
var watching atomic.Bool

// Monitor watches every reader with a single goroutine blocked in
// SCardGetStatusChange (plus the PnP pseudo reader for hot-plug) and fans the
// changes out to subscribers. When pcscd stops or restarts it reports every
// reader removed, re-establishes with backoff and reports what it finds, so a
// subscriber's view converges on the truth. Run it once; only one Monitor may
// run per process.
type Monitor struct {
	buffer    int
	establish func() (statusSource, error)
	exclusive bool // guards the real PC/SC source with watching

	mu      sync.Mutex
	subs    map[*subscriber]struct{}
	readers map[string]*readerInfo
	started bool
	stopped bool
	health  Health
	dropped uint64
}

type readerInfo struct {
	present bool
	atr     []byte
	events  uint32 // pcsc-lite's card event counter, to catch a quick swap
}

type subscriber struct{ ch chan Event }

// statusSource is the part of a PC/SC context the monitor uses; tests script a
// fake one.
type statusSource interface {
	listReaders() ([]string, error)
	getStatusChange(states []scard.ReaderState) error // blocks until a change or cancel
	cancel() error
	release() error
}

// NewMonitor returns a monitor whose subscribers each queue up to buffer events
// (DefaultBuffer if buffer <= 0).
func NewMonitor(buffer int) *Monitor {
	m := newMonitor(buffer, establishSource)
	m.exclusive = true
	return m
}

func newMonitor(buffer int, establish func() (statusSource, error)) *Monitor {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	return &Monitor{
		buffer:    buffer,
		establish: establish,
		subs:      map[*subscriber]struct{}{},
		readers:   map[string]*readerInfo{},
		health:    Health{Error: "monitor not started"},
	}
}

// Subscribe returns a channel of events and a function that ends the
// subscription and closes the channel. The channel first carries the current
// state (ReaderAdded for every known reader, CardInserted for every present
// card), then changes. A subscriber that falls behind by more than the buffer
// loses the oldest queued events, never blocks the monitor; Health counts the
// losses. The channel is closed when Run returns.
func (m *Monitor) Subscribe() (<-chan Event, func()) {
	s := &subscriber{ch: make(chan Event, m.buffer)}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		close(s.ch)
		return s.ch, func() {}
	}
	m.subs[s] = struct{}{}
	names := make([]string, 0, len(m.readers))
	for n := range m.readers {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		m.deliver(s, Event{Kind: ReaderAdded, Reader: n})
		if r := m.readers[n]; r.present {
			m.deliver(s, Event{Kind: CardInserted, Reader: n, ATR: r.atr})
		}
	}
	return s.ch, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if _, ok := m.subs[s]; ok {
			delete(m.subs, s)
			close(s.ch)
		}
	}
}

// Health reports whether the monitor is watching pcscd and, if not, why.
func (m *Monitor) Health() Health {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.health
	h.Readers = len(m.readers)
	h.Dropped = m.dropped
	return h
}

// Readers returns the names of the readers the monitor knows now, sorted.
func (m *Monitor) Readers() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.readers))
	for n := range m.readers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// publish sends ev to every subscriber, under m.mu.
func (m *Monitor) publish(ev Event) {
	for s := range m.subs {
		m.deliver(s, ev)
	}
}

// deliver queues ev for s, dropping the oldest queued event when the queue is
// full. Only the monitor sends on s.ch, under m.mu, so after one receive there
// is room.
func (m *Monitor) deliver(s *subscriber, ev Event) {
	if ev.ATR != nil {
		ev.ATR = append([]byte(nil), ev.ATR...)
	}
	for {
		select {
		case s.ch <- ev:
			return
		default:
		}
		select {
		case <-s.ch:
			m.dropped++
		default:
		}
	}
}

// Run watches pcscd until ctx ends, then closes every subscription and returns
// nil. It never gives up on pcscd: while pcscd is down, Health says so and Run
// retries with backoff. It fails at once only if it was already run or another
// Monitor is running in this process.
func (m *Monitor) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.started {
		m.mu.Unlock()
		return errors.New("pcsc: monitor already run")
	}
	m.started = true
	m.mu.Unlock()
	if m.exclusive {
		if !watching.CompareAndSwap(false, true) {
			m.stop()
			return errors.New("pcsc: another Monitor is already running in this process")
		}
		defer watching.Store(false)
	}
	defer m.stop()

	backoff := minBackoff
	for {
		src, err := m.establish()
		if err == nil {
			began := time.Now()
			err = m.watch(ctx, src)
			src.release()
			if ctx.Err() != nil {
				return nil
			}
			m.mu.Lock()
			m.forgetAll()
			m.mu.Unlock()
			if time.Since(began) > maxBackoff {
				backoff = minBackoff // it worked for a while: retry quickly
			}
		}
		m.setUnhealthy(err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// stop closes every subscription and refuses new ones.
func (m *Monitor) stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopped = true
	m.health = Health{Error: "monitor stopped"}
	for s := range m.subs {
		close(s.ch)
	}
	clear(m.subs)
	clear(m.readers)
}

func (m *Monitor) setUnhealthy(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.health = Health{Error: err.Error()}
}

// watch follows one PC/SC context until ctx ends (nil) or the context fails.
func (m *Monitor) watch(ctx context.Context, src statusSource) error {
	// SCardCancel only interrupts a wait in progress, so a cancel landing
	// between two waits would be lost: keep cancelling until watch is out.
	exited, cancelDone := make(chan struct{}), make(chan struct{})
	stopCancel := context.AfterFunc(ctx, func() {
		defer close(cancelDone)
		for {
			src.cancel()
			select {
			case <-exited:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	defer func() {
		close(exited)
		if !stopCancel() {
			<-cancelDone
		}
	}()

	states := []scard.ReaderState{{Reader: pnpReader, CurrentState: scard.StateUnaware}}
	unknown := 0
	for {
		var err error
		if states, err = m.syncReaders(src, states); err != nil {
			return err
		}
		for i := range states {
			// scard keeps the previous ATR when a call reports none.
			states[i].Atr = nil
		}
		err = src.getStatusChange(states)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, scard.ErrCancelled), errors.Is(err, scard.ErrTimeout):
			continue
		case errors.Is(err, scard.ErrUnknownReader) && unknown < 3:
			// A reader vanished between listing and waiting: list again.
			unknown++
			continue
		case err != nil:
			return wrap("get status change", "", err)
		}
		unknown = 0
		m.mu.Lock()
		for i := range states[1:] {
			m.update(&states[1+i])
		}
		m.mu.Unlock()
		states[0].CurrentState = states[0].EventState &^ scard.StateChanged
	}
}

// syncReaders lists the readers, reports the added and removed ones and
// returns the state list to wait on: the PnP pseudo reader first, then every
// reader. A new reader starts as "unaware", so the next wait returns at once
// with its card state.
func (m *Monitor) syncReaders(src statusSource, states []scard.ReaderState) ([]scard.ReaderState, error) {
	names, err := src.listReaders()
	if err != nil {
		return states, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// Healthy before any event goes out, so a subscriber that reacts to one
	// never sees a stale error.
	m.health = Health{OK: true}
	keep := states[:1]
	for _, rs := range states[1:] {
		if slices.Contains(names, rs.Reader) {
			keep = append(keep, rs)
			continue
		}
		m.forget(rs.Reader)
	}
	for _, n := range names {
		if _, ok := m.readers[n]; ok {
			continue
		}
		m.readers[n] = &readerInfo{}
		m.publish(Event{Kind: ReaderAdded, Reader: n})
		keep = append(keep, scard.ReaderState{Reader: n, CurrentState: scard.StateUnaware})
	}
	return keep, nil
}

// update turns one reader's new state into card events, under m.mu.
func (m *Monitor) update(rs *scard.ReaderState) {
	ev := rs.EventState
	rs.CurrentState = ev &^ scard.StateChanged
	r := m.readers[rs.Reader]
	if r == nil || ev&scard.StateChanged == 0 {
		return
	}
	gone := ev&(scard.StateUnknown|scard.StateUnavailable) != 0
	present := ev&scard.StatePresent != 0 && !gone
	// pcsc-lite counts insertions and removals in the high 16 bits, so a card
	// swapped between two waits still shows as removed and inserted.
	events := uint32(ev) >> 16
	if r.present && (!present || events != r.events) {
		r.present, r.atr = false, nil
		m.publish(Event{Kind: CardRemoved, Reader: rs.Reader})
	}
	if present && !r.present {
		r.present, r.atr, r.events = true, rs.Atr, events
		m.publish(Event{Kind: CardInserted, Reader: rs.Reader, ATR: rs.Atr})
	}
}

// forget reports a reader gone, its card first, under m.mu.
func (m *Monitor) forget(name string) {
	r := m.readers[name]
	if r == nil {
		return
	}
	if r.present {
		m.publish(Event{Kind: CardRemoved, Reader: name})
	}
	delete(m.readers, name)
	m.publish(Event{Kind: ReaderRemoved, Reader: name})
}

// forgetAll reports every reader gone, in name order, under m.mu.
func (m *Monitor) forgetAll() {
	names := make([]string, 0, len(m.readers))
	for n := range m.readers {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		m.forget(n)
	}
}

// scardSource is the real statusSource.
type scardSource struct{ c *scard.Context }

func establishSource() (statusSource, error) {
	c, err := scard.EstablishContext()
	if err != nil {
		return nil, wrap("establish context", "", err)
	}
	return scardSource{c}, nil
}

func (s scardSource) listReaders() ([]string, error) { return listReaders(s.c) }
func (s scardSource) getStatusChange(st []scard.ReaderState) error {
	return s.c.GetStatusChange(st, -1)
}
func (s scardSource) cancel() error  { return s.c.Cancel() }
func (s scardSource) release() error { return s.c.Release() }
