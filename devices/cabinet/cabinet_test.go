package cabinet

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/vnkiosk/kiosk/kiosk/daemon"
)

// testDebounce is long next to the microseconds between two sends of one burst
// of edges below, so a burst is one bounce even on a loaded machine.
const testDebounce = 100 * time.Millisecond

// inputPin registers a fake input under a name unique to the test: periph's pin
// registry is process-wide.
func inputPin(t *testing.T, role string) *gpiotest.Pin {
	t.Helper()
	p := &gpiotest.Pin{N: role + "_" + strings.ReplaceAll(t.Name(), "/", "_"), EdgesChan: make(chan gpio.Level, 64)}
	register(t, p)
	return p
}

func register(t *testing.T, p gpio.PinIO) {
	t.Helper()
	if err := gpioreg.Register(p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gpioreg.Unregister(p.Name()) })
}

// edges feeds a burst of edges to the pin's poller; the fake pin's level follows
// each edge as the poller takes it.
func edges(p *gpiotest.Pin, levels ...gpio.Level) {
	for _, l := range levels {
		p.EdgesChan <- l
	}
}

func start(t *testing.T, c *Cabinet) {
	t.Helper()
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
}

func next(t *testing.T, events <-chan Event) Event {
	t.Helper()
	select {
	case e := <-events:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return Event{}
}

// quiet checks that nothing more arrives once the inputs have had time to settle.
func quiet(t *testing.T, events <-chan Event) {
	t.Helper()
	select {
	case e := <-events:
		t.Fatalf("unexpected event %+v", e)
	case <-time.After(3*testDebounce + idlePoll):
	}
}

func TestHelpButtonBounceIsOnePress(t *testing.T) {
	t.Parallel()
	help := inputPin(t, "HELP")
	c := New(Options{HelpButton: help.N, Debounce: testDebounce})
	events, cancel := c.Subscribe()
	defer cancel()
	start(t, c)
	if h := c.Health(); h.State != daemon.StateOK {
		t.Fatalf("health %+v", h)
	}
	if help.Pull() != gpio.PullUp {
		t.Errorf("help button pull %s, want PullUp (the button closes to ground)", help.Pull())
	}
	edges(help, gpio.Low, gpio.High, gpio.Low) // pressed, bouncing
	e := next(t, events)
	if e.Kind != HelpRequested || e.Pin != help.N || e.At.IsZero() {
		t.Fatalf("event %+v, want help requested on %s", e, help.N)
	}
	quiet(t, events)
	// Released with a bounce and a glitch: releases are not events.
	edges(help, gpio.High, gpio.Low, gpio.High, gpio.Low, gpio.High)
	quiet(t, events)
}

func TestTamperSwitch(t *testing.T) {
	t.Parallel()
	for _, lock := range []bool{true, false} {
		name := "lock on tamper"
		if !lock {
			name = "report only"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			door := inputPin(t, "TAMPER")
			var mu sync.Mutex
			var audited []EventKind
			c := New(Options{TamperSwitch: door.N, LockOnTamper: lock, Debounce: testDebounce, OnTamper: func(e Event) {
				mu.Lock()
				defer mu.Unlock()
				audited = append(audited, e.Kind)
			}})
			events, cancel := c.Subscribe()
			defer cancel()
			var got []EventKind
			expect := func(kinds ...EventKind) {
				t.Helper()
				for _, k := range kinds {
					if e := next(t, events); e.Kind != k {
						t.Fatalf("event %q after %q, want %q", e.Kind, got, k)
					} else {
						got = append(got, e.Kind)
					}
				}
			}

			// The fake pin reads high once pulled up: the door is open at start,
			// which must count, or a power cycle would get round the lock.
			start(t, c)
			expect(CabinetOpened)
			if lock {
				expect(UILocked)
			}
			if !c.DoorOpen() || c.Locked() != lock {
				t.Fatalf("at start: door open %v, locked %v; want open, locked %v", c.DoorOpen(), c.Locked(), lock)
			}
			if err := c.Unlock(); !errors.Is(err, ErrDoorOpen) {
				t.Fatalf("Unlock with the door open: %v, want ErrDoorOpen", err)
			}

			edges(door, gpio.Low, gpio.High, gpio.Low) // shut, bouncing
			expect(CabinetClosed)
			if c.DoorOpen() || c.Locked() != lock {
				t.Fatalf("after closing: door open %v, locked %v; closing alone must not unlock", c.DoorOpen(), c.Locked())
			}
			if err := c.Unlock(); err != nil {
				t.Fatal(err)
			}
			if lock {
				expect(UIUnlocked)
			}
			if c.Locked() {
				t.Fatal("still locked after Unlock")
			}

			// A glitch that settles closed, then the door opening: however the
			// two bursts merge, one opening comes out.
			edges(door, gpio.High, gpio.Low)
			edges(door, gpio.High, gpio.Low, gpio.High)
			expect(CabinetOpened)
			if lock {
				expect(UILocked)
			}
			quiet(t, events)
			mu.Lock()
			defer mu.Unlock()
			if want := []EventKind{CabinetOpened, CabinetClosed, CabinetOpened}; !slices.Equal(audited, want) {
				t.Errorf("OnTamper saw %q, want %q", audited, want)
			}
		})
	}
}

// A subscriber that never reads neither blocks the poller nor starves the others.
func TestSlowSubscriberDoesNotBlock(t *testing.T) {
	t.Parallel()
	door := inputPin(t, "TAMPER")
	c := New(Options{TamperSwitch: door.N, Debounce: time.Millisecond})
	stuck, cancelStuck := c.Subscribe()
	defer cancelStuck()
	events, cancel := c.Subscribe()
	defer cancel()
	start(t, c)
	if e := next(t, events); e.Kind != CabinetOpened {
		t.Fatalf("first event %+v", e)
	}
	const toggles = 20
	for i := range toggles {
		want, level := CabinetClosed, gpio.Low
		if i%2 == 1 {
			want, level = CabinetOpened, gpio.High
		}
		edges(door, level)
		if e := next(t, events); e.Kind != want {
			t.Fatalf("toggle %d: %q, want %q", i, e.Kind, want)
		}
	}
	if len(stuck) != subscriberBuffer {
		t.Errorf("stuck subscriber holds %d events, want %d", len(stuck), subscriberBuffer)
	}
	// The last event may reach the reading subscriber before the stuck one's
	// drop is counted: the count settles within moments.
	want := uint64(1 + toggles - subscriberBuffer)
	deadline := time.Now().Add(2 * time.Second)
	for c.Dropped() != want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := c.Dropped(); got != want {
		t.Errorf("Dropped() = %d, want %d", got, want)
	}
}

func TestSubscriptionEnds(t *testing.T) {
	t.Parallel()
	c := New(Options{})
	a, cancelA := c.Subscribe()
	b, _ := c.Subscribe()
	cancelA()
	cancelA() // idempotent
	if _, ok := <-a; ok {
		t.Error("cancelled stream still open")
	}
	start(t, c)
	if err := c.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-b; ok {
		t.Error("stream open after Stop")
	}
	late, cancelLate := c.Subscribe()
	defer cancelLate()
	if _, ok := <-late; ok {
		t.Error("a subscription after Stop is open")
	}
}

func TestMissingPins(t *testing.T) {
	t.Parallel()
	help := inputPin(t, "HELP")
	for _, tc := range []struct {
		name  string
		opt   Options
		state daemon.State
		want  []string
	}{
		{"nothing configured", Options{}, daemon.StateAbsent, []string{"no cabinet GPIO configured"}},
		{"no pin exists", Options{HelpButton: "GPIO917", StatusLED: "GPIO927", TamperSwitch: "GPIO922", LockOnTamper: true}, daemon.StateAbsent,
			[]string{`help button pin "GPIO917" not found`, `status LED pin "GPIO927" not found`, `tamper switch pin "GPIO922" not found, so opening the cabinet goes unnoticed`}},
		{"help button only", Options{HelpButton: help.N, TamperSwitch: "GPIO922"}, daemon.StateDegraded,
			[]string{`tamper switch pin "GPIO922" not found`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(tc.opt)
			start(t, c)
			h := c.Health()
			if h.State != tc.state {
				t.Errorf("state %s (%s), want %s", h.State, h.Reason, tc.state)
			}
			for _, w := range tc.want {
				if !strings.Contains(h.Reason, w) {
					t.Errorf("reason %q lacks %q", h.Reason, w)
				}
			}
			c.SetStatus(StatusError) // never blocks, LED or not
			c.SetStatus(StatusOK)
			if c.Locked() {
				t.Error("locked without a tamper switch")
			}
		})
	}
}

func TestPatterns(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	for _, tc := range []struct {
		s    Status
		want []Step
	}{
		{StatusOff, []Step{{false, 0}}},
		{StatusOK, []Step{{true, 0}}},
		{StatusAttention, []Step{{true, 500 * ms}, {false, 500 * ms}}},
		{StatusError, []Step{{true, 150 * ms}, {false, 150 * ms}, {true, 150 * ms}, {false, 1050 * ms}}},
		{Status(9), []Step{{false, 0}}},
	} {
		if got := tc.s.Pattern(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.s, got, tc.want)
		}
	}
}

// ledPin notes every level written to it.
type ledPin struct {
	*gpiotest.Pin
	mu     sync.Mutex
	levels []gpio.Level
}

func (p *ledPin) Out(l gpio.Level) error {
	p.mu.Lock()
	p.levels = append(p.levels, l)
	p.mu.Unlock()
	return p.Pin.Out(l)
}

func (p *ledPin) written() []gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.levels)
}

// The LED plays each status's pattern step by step, and a new status takes over
// mid-step. The test owns the clock: every wait the blinker asks for comes to
// the test, which ends it.
func TestLEDPlaysPatterns(t *testing.T) {
	t.Parallel()
	led := &ledPin{Pin: &gpiotest.Pin{N: "LED_" + t.Name()}}
	register(t, led)
	c := New(Options{StatusLED: led.N})
	type wait struct {
		d    time.Duration
		done chan time.Time
	}
	waits := make(chan wait)
	c.after = func(d time.Duration) <-chan time.Time {
		w := wait{d, make(chan time.Time, 1)}
		waits <- w
		return w.done
	}
	start(t, c)

	// step expects the blinker to light (or darken) the LED and ask for d.
	step := func(on bool, d time.Duration) wait {
		t.Helper()
		select {
		case w := <-waits:
			if w.d != d || led.Read() != gpio.Level(on) {
				t.Fatalf("LED %s for %v, want %v for %v", led.Read(), w.d, gpio.Level(on), d)
			}
			return w
		case <-time.After(5 * time.Second):
			t.Fatal("the blinker asked for no wait")
		}
		return wait{}
	}
	// Configured as an output, then dark for StatusOff, before any status is set.
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for len(led.written()) < n {
			if time.Now().After(deadline) {
				t.Fatalf("LED written %v, want %d writes", led.written(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(2)
	ms := time.Millisecond
	c.SetStatus(StatusAttention)
	w := step(true, 500*ms)
	w.done <- time.Now()
	w = step(false, 500*ms)
	w.done <- time.Now()
	step(true, 500*ms) // the pattern repeats; this wait never ends

	c.SetStatus(StatusError) // mid-step
	for range 2 {
		for _, s := range StatusError.Pattern() {
			step(s.On, s.For).done <- time.Now()
		}
	}
	step(true, 150*ms)

	n := len(led.written())
	c.SetStatus(StatusOK) // steady: the blinker asks for no wait
	waitFor(n + 1)
	if led.Read() != gpio.High {
		t.Fatal("StatusOK did not light the LED")
	}
	select {
	case w := <-waits:
		t.Fatalf("a steady pattern asked for a %v wait", w.d)
	case <-time.After(50 * time.Millisecond):
	}

	if err := c.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := led.written(); got[len(got)-1] != gpio.Low {
		t.Errorf("LED left %s after Stop", got[len(got)-1])
	}
	want := []gpio.Level{gpio.Low, gpio.Low, // configured as output, StatusOff
		gpio.High, gpio.Low, gpio.High, // attention
		gpio.High, gpio.Low, gpio.High, gpio.Low, gpio.High, gpio.Low, gpio.High, gpio.Low, gpio.High, // error, twice and one step
		gpio.High, gpio.Low} // ok, stopped
	if got := led.written(); !slices.Equal(got, want) {
		t.Errorf("LED levels %v, want %v", got, want)
	}
}
