package outbox

import (
	"testing"
	"time"
)

func TestBreakerTransitions(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	type step struct {
		op        string // "fail", "ok", "ready"
		at        time.Duration
		wantState BreakerState
		wantReady time.Duration // for "ready": delay from t0, -1 for "now"
		wantOpen  bool          // for "fail": whether it (re)opened
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"stays closed below threshold", []step{
			{op: "fail", wantState: BreakerClosed},
			{op: "fail", wantState: BreakerClosed},
			{op: "ready", wantState: BreakerClosed, wantReady: -1},
		}},
		{"opens at threshold and waits the cool-down", []step{
			{op: "fail"}, {op: "fail"},
			{op: "fail", at: time.Second, wantState: BreakerOpen, wantOpen: true},
			{op: "ready", at: 5 * time.Second, wantState: BreakerOpen, wantReady: 11 * time.Second},
		}},
		{"half-open after cool-down, probe success closes", []step{
			{op: "fail"}, {op: "fail"}, {op: "fail", wantState: BreakerOpen, wantOpen: true},
			{op: "ready", at: 10 * time.Second, wantState: BreakerHalfOpen, wantReady: -1},
			{op: "ok", wantState: BreakerClosed},
			{op: "fail", wantState: BreakerClosed},
		}},
		{"probe failure re-opens for a new cool-down", []step{
			{op: "fail"}, {op: "fail"}, {op: "fail", wantState: BreakerOpen, wantOpen: true},
			{op: "ready", at: 12 * time.Second, wantState: BreakerHalfOpen, wantReady: -1},
			{op: "fail", at: 12 * time.Second, wantState: BreakerOpen, wantOpen: true},
			{op: "ready", at: 13 * time.Second, wantState: BreakerOpen, wantReady: 22 * time.Second},
		}},
		{"success resets the count", []step{
			{op: "fail"}, {op: "fail"}, {op: "ok"}, {op: "fail"}, {op: "fail", wantState: BreakerClosed},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBreaker(3, 10*time.Second)
			for i, s := range tc.steps {
				now := t0.Add(s.at)
				switch s.op {
				case "fail":
					if opened := b.failure(now); opened != s.wantOpen {
						t.Fatalf("step %d: opened = %v, want %v", i, opened, s.wantOpen)
					}
				case "ok":
					b.success()
				case "ready":
					r := b.readyAt(now)
					want := time.Time{}
					if s.wantReady >= 0 {
						want = t0.Add(s.wantReady)
					}
					if !r.Equal(want) {
						t.Fatalf("step %d: readyAt = %v, want %v", i, r, want)
					}
				}
				if s.wantState != "" && b.state != s.wantState {
					t.Fatalf("step %d (%s): state %s, want %s", i, s.op, b.state, s.wantState)
				}
			}
		})
	}
}

func TestBackoffBounds(t *testing.T) {
	t.Parallel()
	top := func(n int64) int64 { return n - 1 } // the largest value jitter can pick
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {5, 16 * time.Second},
		{6, 30 * time.Second}, {7, 30 * time.Second}, {1000, 30 * time.Second},
	}
	for _, tc := range tests {
		if got := backoff(tc.attempt, time.Second, 30*time.Second, top); got != tc.want {
			t.Errorf("attempt %d: max backoff %v, want %v", tc.attempt, got, tc.want)
		}
		if got := backoff(tc.attempt, time.Second, 30*time.Second, func(int64) int64 { return 0 }); got != 0 {
			t.Errorf("attempt %d: min backoff %v, want 0 (full jitter)", tc.attempt, got)
		}
	}
	// Overflow: a huge base doubling must stay at the cap, never go negative.
	if got := backoff(80, time.Duration(1<<62), 30*time.Second, top); got != 30*time.Second {
		t.Errorf("huge base: %v", got)
	}
}
