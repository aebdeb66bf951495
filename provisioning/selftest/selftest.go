// Package selftest owns the kiosk's commissioning self-test (`kioskctl
// selftest`): one check per thing a technician must see working before a
// kiosk serves citizens — card reader, printer, document scanner, QR scanner,
// customer display, cabinet GPIO, the backend and the clock, disk space and the
// client certificate — each answering ok, warn or fail with a reason and a
// short fix hint. Checks take small interfaces, not kioskd's subsystems, so
// each is tested with fakes; kioskd builds them from its devices and
// configuration. Run runs them concurrently under a per-check timeout and
// reports in the order given. Reasons and hints never carry personal data: a
// check that talks to a card or scans a page says only whether it worked.
package selftest

import (
	"context"
	"fmt"
	"time"
)

// Status is a check's verdict.
type Status string

// Verdicts. Warn is for what still serves citizens but needs a technician soon
// (paper near end, a certificate a month from expiry); fail is for what does
// not work.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Result is one check's verdict with a reason and, unless ok, a fix hint.
type Result struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Reason string `json:"reason"`
	Hint   string `json:"hint"`
}

// Check is one named check.
type Check struct {
	Name string
	// Run performs the check; it should return once ctx ends.
	Run func(ctx context.Context) Result
}

// Report is the results in the order the checks were given.
type Report struct {
	Checks []Result `json:"checks"`
}

// Failed reports whether any check failed.
func (r Report) Failed() bool {
	for _, c := range r.Checks {
		if c.Status == Fail {
			return true
		}
	}
	return false
}

// CheckTimeout bounds each check. The slowest honest check is a test ticket
// or a test scan on a cold scanner; past this something hangs.
const CheckTimeout = 20 * time.Second

// Run runs the checks concurrently, each under CheckTimeout, and reports
// them in order.
func Run(ctx context.Context, checks []Check) Report {
	return run(ctx, checks, CheckTimeout)
}

func run(ctx context.Context, checks []Check, timeout time.Duration) Report {
	results := make([]chan Result, len(checks))
	for i, c := range checks {
		results[i] = make(chan Result, 1) // a check that overstays may still finish: never block it
		go func() { results[i] <- runOne(ctx, c, timeout) }()
	}
	// Every check started now, so one deadline covers them all: a second
	// hanging check costs no more time than the first.
	wctx, cancel := context.WithTimeout(ctx, timeout+time.Second)
	defer cancel()
	rep := Report{Checks: make([]Result, len(checks))}
	for i, c := range checks {
		select {
		case r := <-results[i]:
			rep.Checks[i] = r
			continue
		default:
		}
		select {
		case r := <-results[i]:
			rep.Checks[i] = r
		case <-wctx.Done():
			// The check ignores its context: report it and leave it behind.
			rep.Checks[i] = Result{Name: c.Name, Status: Fail,
				Reason: fmt.Sprintf("did not finish within %s", timeout),
				Hint:   "something hangs; see the kioskd journal (journalctl -u kioskd)"}
		}
	}
	return rep
}

// runOne runs one check under its timeout, turning a panic or a missing
// verdict into a failure so one broken check cannot spoil the report.
func runOne(ctx context.Context, c Check, timeout time.Duration) (res Result) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			res = Result{Status: Fail, Reason: fmt.Sprintf("the check crashed: %v", p), Hint: "report this as a kioskd bug"}
		}
		res.Name = c.Name
		switch res.Status {
		case OK, Warn, Fail:
		default:
			res = Result{Name: c.Name, Status: Fail, Reason: fmt.Sprintf("the check gave no verdict (%q)", res.Status), Hint: "report this as a kioskd bug"}
		}
		if res.Status != OK && ctx.Err() == context.DeadlineExceeded && res.Reason == "" {
			res.Reason = fmt.Sprintf("did not finish within %s", timeout)
		}
	}()
	return c.Run(ctx)
}

func ok(reason string) Result { return Result{Status: OK, Reason: reason} }

func warn(reason, hint string) Result { return Result{Status: Warn, Reason: reason, Hint: hint} }

func fail(reason, hint string) Result { return Result{Status: Fail, Reason: reason, Hint: hint} }
