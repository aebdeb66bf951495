// Package cabinet owns the kiosk cabinet's GPIO: the help button a citizen presses
// to call staff, the status LED on the front, and the tamper switch on the service
// door, whose opening can lock the touchscreen UI until a technician unlocks it.
// Inputs are edge-triggered and debounced; their events go out on one stream that
// any number of subscribers read (the UI, the backend link, the audit log) and
// that never blocks the pin pollers. Pins are found by name ("GPIO17") in periph's
// registry; a pin that is not there is reported in Health and the daemon runs on.
//
// Wiring the code expects: the help button closes to ground (internal pull-up,
// pressed reads low); the tamper switch is closed to ground while the door is shut
// (internal pull-up), so an open door and a cut wire both read high and both count
// as tampering; the LED lights when its pin is high.
package cabinet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"

	"github.com/vnkiosk/kiosk/kiosk/daemon"
)

// EventKind says what happened.
type EventKind string

// Event kinds.
const (
	HelpRequested EventKind = "help requested"
	CabinetOpened EventKind = "cabinet opened"
	CabinetClosed EventKind = "cabinet closed"
	UILocked      EventKind = "ui locked"
	UIUnlocked    EventKind = "ui unlocked"
)

// Event is one thing that happened at the cabinet.
type Event struct {
	Kind EventKind
	Pin  string // the pin whose edge caused it; "" for UIUnlocked
	At   time.Time
}

// Options name the pins and set the tamper policy.
type Options struct {
	HelpButton   string // e.g. "GPIO17"; "" when the cabinet has none
	StatusLED    string // e.g. "GPIO27"
	TamperSwitch string // e.g. "GPIO22"
	// LockOnTamper locks the UI when the door opens; only Unlock lifts it.
	LockOnTamper bool
	// OnTamper is called with every CabinetOpened and CabinetClosed event, from
	// the tamper poller and before subscribers see it, so the audit log records
	// it even when a subscriber lags. It must return promptly.
	OnTamper func(Event)
	// Debounce is how long an input must stay still before its level counts; 0
	// means 50 ms, longer than the bounce of the microswitches and arcade buttons
	// used in cabinets and too short for a person to notice.
	Debounce time.Duration
	Log      *slog.Logger
}

const (
	defaultDebounce = 50 * time.Millisecond
	// idlePoll bounds how long a poller waits for an edge before it checks for
	// Stop and re-reads the level, which also catches an edge the kernel lost.
	// Only positive timeouts are used: periph's drivers disagree on whether 0 and
	// -1 mean "wait forever" or "do not wait".
	idlePoll = 200 * time.Millisecond
	// subscriberBuffer is how many events a subscriber may fall behind before it
	// loses events; the pollers never wait for a subscriber.
	subscriberBuffer = 16
)

// Cabinet is the cabinet GPIO subsystem.
type Cabinet struct {
	opt      Options
	log      *slog.Logger
	debounce time.Duration
	now      func() time.Time
	after    func(time.Duration) <-chan time.Time // LED timing; tests replace it

	status    atomic.Int32  // the Status the LED shows
	statusSet chan struct{} // wakes the LED blinker; capacity 1, so SetStatus never waits
	dropped   atomic.Uint64

	mu       sync.Mutex
	health   daemon.Health
	subs     map[chan Event]struct{}
	stopped  bool
	locked   bool
	doorOpen bool
	pins     []gpio.PinIO
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// New returns the cabinet subsystem; nothing touches hardware before Start.
func New(opt Options) *Cabinet {
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	debounce := opt.Debounce
	if debounce <= 0 {
		debounce = defaultDebounce
	}
	return &Cabinet{
		opt: opt, log: log, debounce: debounce, now: time.Now, after: time.After,
		statusSet: make(chan struct{}, 1),
		health:    daemon.Health{State: daemon.StateStarting},
		subs:      map[chan Event]struct{}{},
	}
}

// Name implements daemon.Subsystem.
func (c *Cabinet) Name() string { return "cabinet" }

// Health implements daemon.Subsystem.
func (c *Cabinet) Health() daemon.Health {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.health
}

// Start implements daemon.Subsystem. It finds the pins, configures them and starts
// their pollers; pins that are not there are reported in Health, never as an
// error, because a kiosk without a help button still serves citizens. If the door
// is open at start, that is reported (and locks the UI) as if it had just opened:
// a power cycle must not be a way around the lock.
func (c *Cabinet) Start(ctx context.Context) error {
	type role struct {
		what, name string
	}
	roles := []role{{"help button", c.opt.HelpButton}, {"status LED", c.opt.StatusLED}, {"tamper switch", c.opt.TamperSwitch}}
	configured := 0
	for _, r := range roles {
		if r.name != "" {
			configured++
		}
	}
	if configured == 0 {
		c.setHealth(daemon.Health{State: daemon.StateAbsent, Reason: "no cabinet GPIO configured (help_button, status_led and tamper_switch are empty)"})
		return nil
	}
	// On a machine without GPIO host.Init succeeds and registers no pins; the
	// lookups below then report each pin missing.
	if _, err := host.Init(); err != nil {
		c.setHealth(daemon.Health{State: daemon.StateAbsent, Reason: "periph host drivers did not load: " + err.Error()})
		return nil
	}

	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.mu.Lock()
	c.cancel = cancel
	c.mu.Unlock()

	var problems []string
	working := 0
	for _, r := range roles {
		if r.name == "" {
			continue
		}
		pin := gpioreg.ByName(r.name)
		if pin == nil {
			why := fmt.Sprintf("%s pin %q not found", r.what, r.name)
			if r.what == "tamper switch" {
				why += ", so opening the cabinet goes unnoticed"
			}
			problems = append(problems, why)
			continue
		}
		var err error
		switch r.what {
		case "help button":
			err = c.startInput(rctx, pin, c.onHelpButton)
		case "tamper switch":
			err = c.startInput(rctx, pin, c.onTamperSwitch)
		case "status LED":
			err = c.startLED(rctx, pin)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s pin %q: %v", r.what, r.name, err))
			continue
		}
		c.mu.Lock()
		c.pins = append(c.pins, pin)
		c.mu.Unlock()
		working++
	}
	switch {
	case len(problems) == 0:
		c.setHealth(daemon.Health{State: daemon.StateOK})
	case working == 0:
		c.setHealth(daemon.Health{State: daemon.StateAbsent, Reason: strings.Join(problems, "; ")})
	default:
		c.setHealth(daemon.Health{State: daemon.StateDegraded, Reason: strings.Join(problems, "; ")})
	}
	if len(problems) > 0 {
		c.log.Warn("cabinet GPIO incomplete", "reason", strings.Join(problems, "; "))
	}
	return nil
}

func (c *Cabinet) setHealth(h daemon.Health) {
	c.mu.Lock()
	c.health = h
	c.mu.Unlock()
}

// startInput configures pin as a pulled-up input with edge detection on both
// edges (the release of the help button and the closing of the door matter too),
// reports its level at start, and polls it.
func (c *Cabinet) startInput(ctx context.Context, pin gpio.PinIO, onLevel func(pin string, l gpio.Level, atStart bool)) error {
	if err := pin.In(gpio.PullUp, gpio.BothEdges); err != nil {
		return fmt.Errorf("configure as input with edge detection: %w", err)
	}
	level := pin.Read()
	onLevel(pin.Name(), level, true)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.poll(ctx, pin, level, onLevel)
	}()
	return nil
}

// poll debounces by waiting for quiet: after an edge, every further edge within
// the debounce time restarts the wait, and only the level read once the line has
// been still that long counts. A glitch that returns to the old level is ignored.
func (c *Cabinet) poll(ctx context.Context, pin gpio.PinIO, stable gpio.Level, onLevel func(string, gpio.Level, bool)) {
	for ctx.Err() == nil {
		if pin.WaitForEdge(idlePoll) {
			for ctx.Err() == nil && pin.WaitForEdge(c.debounce) {
			}
			if ctx.Err() != nil {
				return
			}
		}
		if l := pin.Read(); l != stable {
			stable = l
			onLevel(pin.Name(), l, false)
		}
	}
}

func (c *Cabinet) onHelpButton(pin string, l gpio.Level, atStart bool) {
	// Pressed reads low. A button held down at start is a stuck button or a
	// wiring fault, not a citizen asking for help.
	if l == gpio.Low && !atStart {
		c.emit(Event{Kind: HelpRequested, Pin: pin, At: c.now()})
	}
	if l == gpio.Low && atStart {
		c.log.Warn("help button reads pressed at start; stuck button or wiring fault?", "pin", pin)
	}
}

func (c *Cabinet) onTamperSwitch(pin string, l gpio.Level, atStart bool) {
	open := l == gpio.High
	if atStart && !open {
		return
	}
	e := Event{Kind: CabinetClosed, Pin: pin, At: c.now()}
	if open {
		e.Kind = CabinetOpened
	}
	if c.opt.OnTamper != nil {
		c.opt.OnTamper(e)
	}
	c.mu.Lock()
	c.doorOpen = open
	lock := open && c.opt.LockOnTamper && !c.locked
	if lock {
		c.locked = true
	}
	c.mu.Unlock()
	c.log.Warn("cabinet tamper switch", "event", string(e.Kind), "pin", pin, "at_start", atStart)
	c.emit(e)
	if lock {
		c.emit(Event{Kind: UILocked, Pin: pin, At: e.At})
	}
}

// Locked says whether the UI must stay locked because the cabinet was opened.
func (c *Cabinet) Locked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.locked
}

// DoorOpen says whether the tamper switch reads open now (debounced).
func (c *Cabinet) DoorOpen() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.doorOpen
}

// ErrDoorOpen is returned by Unlock while the cabinet is still open.
var ErrDoorOpen = errors.New("cabinet: close the cabinet before unlocking the UI")

// Unlock lifts the tamper lock. It refuses while the door is open, so the lock
// cannot be lifted by someone with the door still open in front of them; closing
// the door alone never unlocks.
func (c *Cabinet) Unlock() error {
	c.mu.Lock()
	if c.doorOpen {
		c.mu.Unlock()
		return ErrDoorOpen
	}
	was := c.locked
	c.locked = false
	c.mu.Unlock()
	if was {
		c.emit(Event{Kind: UIUnlocked, At: c.now()})
	}
	return nil
}

// Subscribe returns a stream of events and a function that ends the
// subscription and closes the stream. Subscribe before Start to see the state at
// start (a door found open). A subscriber more than 16 events behind loses the
// newer events (counted in Dropped); Stop closes every stream.
func (c *Cabinet) Subscribe() (<-chan Event, func()) {
	ch := make(chan Event, subscriberBuffer)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		close(ch)
		return ch, func() {}
	}
	c.subs[ch] = struct{}{}
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if _, ok := c.subs[ch]; ok {
				delete(c.subs, ch)
				close(ch)
			}
		})
	}
}

// Dropped is how many events were lost to subscribers that fell behind.
func (c *Cabinet) Dropped() uint64 { return c.dropped.Load() }

func (c *Cabinet) emit(e Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch := range c.subs {
		select {
		case ch <- e:
		default:
			c.dropped.Add(1)
			c.log.Warn("cabinet event dropped: subscriber is not reading", "event", string(e.Kind))
		}
	}
}

// Stop implements daemon.Subsystem: pollers stop, the LED goes dark, pins are
// released and subscriber streams close.
func (c *Cabinet) Stop(ctx context.Context) error {
	c.mu.Lock()
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("cabinet: pin pollers did not stop: %w", ctx.Err())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, p := range c.pins {
		if err := p.Halt(); err != nil {
			errs = append(errs, fmt.Errorf("release pin %s: %w", p.Name(), err))
		}
	}
	c.pins = nil
	c.stopped = true
	for ch := range c.subs {
		close(ch)
		delete(c.subs, ch)
	}
	if c.health.State == daemon.StateOK {
		c.health = daemon.Health{State: daemon.StateStopped}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cabinet: stop: %w", err)
	}
	return nil
}

// Attachment implements daemon.Device: the pins in use.
func (c *Cabinet) Attachment() string {
	var parts []string
	for _, p := range []struct{ what, pin string }{
		{"help", c.opt.HelpButton}, {"LED", c.opt.StatusLED}, {"tamper", c.opt.TamperSwitch},
	} {
		if p.pin != "" {
			parts = append(parts, p.what+" "+p.pin)
		}
	}
	if len(parts) == 0 {
		return "no GPIO configured"
	}
	return strings.Join(parts, ", ")
}
