package outbox

import "time"

// BreakerState is the circuit breaker's state, as `kioskctl outbox` shows it.
type BreakerState string

// Breaker states: closed delivers normally; open waits out the cool-down without
// touching the backend; half-open lets one probe delivery through, whose result
// closes or re-opens the breaker.
const (
	BreakerClosed   BreakerState = "closed"
	BreakerOpen     BreakerState = "open"
	BreakerHalfOpen BreakerState = "half-open"
)

// breaker stops the sender from hammering a backend that is down: after
// threshold consecutive retryable failures it opens for cooldown. Per-row backoff
// already spaces retries of one filing; the breaker is what keeps a kiosk with a
// long queue from trying each row in turn against a dead link. It is only used
// by the sender goroutine; the Outbox guards it for readers.
type breaker struct {
	threshold int
	cooldown  time.Duration

	state    BreakerState
	failures int // consecutive retryable failures
	openedAt time.Time
}

func newBreaker(threshold int, cooldown time.Duration) *breaker {
	return &breaker{threshold: threshold, cooldown: cooldown, state: BreakerClosed}
}

// readyAt is the earliest time a delivery may start. Once an open breaker's
// cool-down has passed, it turns half-open and lets the next delivery probe.
func (b *breaker) readyAt(now time.Time) time.Time {
	if b.state != BreakerOpen {
		return time.Time{}
	}
	until := b.openedAt.Add(b.cooldown)
	if !now.Before(until) {
		b.state = BreakerHalfOpen
		return time.Time{}
	}
	return until
}

// success records a delivery the backend answered (acknowledged, or rejected as
// permanently invalid: either way it is up).
func (b *breaker) success() {
	b.state = BreakerClosed
	b.failures = 0
}

// failure records a retryable failure and reports whether the breaker (re)opened.
func (b *breaker) failure(now time.Time) bool {
	b.failures++
	if b.state == BreakerHalfOpen || b.failures >= b.threshold {
		opened := b.state != BreakerOpen
		b.state = BreakerOpen
		b.openedAt = now
		return opened
	}
	return false
}

// backoff is the delay before attempt+1 after attempt failed: "full jitter",
// uniform in [0, min(cap, base·2^(attempt-1))], so a fleet of kiosks that lost
// the same link does not retry in lock-step. randN(n) returns [0, n).
func backoff(attempt int, base, ceiling time.Duration, randN func(int64) int64) time.Duration {
	d := base
	for i := 1; i < attempt && d < ceiling; i++ {
		d *= 2
	}
	if d > ceiling || d <= 0 {
		d = ceiling
	}
	return time.Duration(randN(int64(d) + 1))
}
