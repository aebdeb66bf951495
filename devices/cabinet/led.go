package cabinet

import (
	"context"
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// Status is what the front LED tells a passer-by (and the technician walking up
// to the kiosk) about the kiosk's state.
type Status int32

// Statuses, from dark to alarming.
const (
	StatusOff       Status = iota // dark: not started, or stopped
	StatusOK                      // steady on: serving
	StatusAttention               // slow blink: serving, but something needs a look (paper low, degraded device)
	StatusError                   // double flash: out of service
)

func (s Status) String() string {
	switch s {
	case StatusOff:
		return "off"
	case StatusOK:
		return "ok"
	case StatusAttention:
		return "attention"
	case StatusError:
		return "error"
	}
	return fmt.Sprintf("Status(%d)", int32(s))
}

// Step is one phase of a blink pattern.
type Step struct {
	On  bool
	For time.Duration // 0 in a one-step pattern: hold
}

// Pattern is the LED pattern for s, repeated while s holds. Attention and error
// differ in rhythm, not only in speed, so they can be told apart at a glance
// from across a room.
func (s Status) Pattern() []Step {
	switch s {
	case StatusOK:
		return []Step{{On: true}}
	case StatusAttention:
		return []Step{{true, 500 * time.Millisecond}, {false, 500 * time.Millisecond}}
	case StatusError:
		return []Step{
			{true, 150 * time.Millisecond}, {false, 150 * time.Millisecond},
			{true, 150 * time.Millisecond}, {false, 1050 * time.Millisecond},
		}
	}
	return []Step{{On: false}}
}

// SetStatus changes the LED pattern. It never waits: the blinker picks up the
// newest status at once, even mid-blink.
func (c *Cabinet) SetStatus(s Status) {
	c.status.Store(int32(s))
	select {
	case c.statusSet <- struct{}{}:
	default: // a wake-up is already pending; it will read the newest status
	}
}

func (c *Cabinet) startLED(ctx context.Context, led gpio.PinIO) error {
	if err := led.Out(gpio.Low); err != nil {
		return fmt.Errorf("configure as output: %w", err)
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.blink(ctx, led)
	}()
	return nil
}

// blink plays the current status's pattern on led until ctx ends, then leaves
// the LED dark. A wake-up without a change of status (SetStatus with the same
// status, or one that raced the first read) does not restart the pattern.
func (c *Cabinet) blink(ctx context.Context, led gpio.PinOut) {
	current := Status(c.status.Load())
	pattern, step := current.Pattern(), 0
	failing := false
	for {
		s := pattern[step]
		if err := led.Out(gpio.Level(s.On)); err != nil && !failing {
			c.log.Error("status LED write failed", "pin", led.String(), "err", err)
			failing = true
		} else if err == nil {
			failing = false
		}
		var next <-chan time.Time // nil for a steady pattern: wait for a new status
		if len(pattern) > 1 {
			next = c.after(s.For)
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				if err := led.Out(gpio.Low); err != nil {
					c.log.Error("status LED could not be turned off", "pin", led.String(), "err", err)
				}
				return
			case <-c.statusSet:
				if now := Status(c.status.Load()); now != current {
					current, pattern, step = now, now.Pattern(), 0
					break wait
				}
			case <-next:
				step = (step + 1) % len(pattern)
				break wait
			}
		}
	}
}
