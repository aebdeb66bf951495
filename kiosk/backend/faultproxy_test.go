package backend_test

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"

	"github.com/vnkiosk/kiosk/kiosk/backend/refbackend"
	"github.com/vnkiosk/kiosk/kiosk/outbox"
)

// startFaultProxy runs an in-process toxiproxy proxy on 127.0.0.1 in front of
// srv and returns it with the https:// URL that goes through it. The server
// certificate names 127.0.0.1, so mutual TLS works through the proxy unchanged.
func startFaultProxy(tb testing.TB, srv *refbackend.Server) (*toxiproxy.Proxy, string) {
	tb.Helper()
	u, err := url.Parse(srv.URL())
	if err != nil {
		tb.Fatal(err)
	}
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(api, "refbackend", "127.0.0.1:0", u.Host)
	if err := p.Start(); err != nil {
		tb.Fatal(err)
	}
	// Listen now holds the port picked; a restart after Stop binds it again.
	tb.Cleanup(p.Stop)
	return p, "https://" + p.Listen
}

// recordingForwarder wraps the Client to see what the outbox saw: the reason of
// every failed attempt, and the time of every success.
type recordingForwarder struct {
	next outbox.Forwarder

	mu        sync.Mutex
	failures  map[string]int // ForwardError reason → count
	failed    int
	successes []time.Time
	onFailure func(d outbox.Delivery) // called (without mu) after a failure
}

func (r *recordingForwarder) Forward(ctx context.Context, d outbox.Delivery) error {
	err := r.next.Forward(ctx, d)
	r.mu.Lock()
	if err != nil {
		if r.failures == nil {
			r.failures = map[string]int{}
		}
		r.failures[reason(err)]++
		r.failed++
	} else {
		r.successes = append(r.successes, time.Now())
	}
	hook := r.onFailure
	r.mu.Unlock()
	if err != nil && hook != nil {
		hook(d)
	}
	return err
}

func (r *recordingForwarder) snapshot() (map[string]int, int, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := make(map[string]int, len(r.failures))
	for k, v := range r.failures {
		m[k] = v
	}
	return m, r.failed, append([]time.Time(nil), r.successes...)
}

func startOutbox(tb testing.TB, opt outbox.Options) *outbox.Outbox {
	tb.Helper()
	o, err := outbox.New(opt)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	if err := o.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := o.Stop(sctx); err != nil {
			tb.Error(err)
		}
	})
	return o
}

// enqueueFilings queues n valid filings (as delivery builds them) and returns
// the idempotency key and body hash wanted for each MaHoSo.
func enqueueFilings(tb testing.TB, o *outbox.Outbox, n int) map[string][2]string {
	tb.Helper()
	wants := make(map[string][2]string, n)
	for i := range n {
		f := delivery(i, "").Filing
		r, err := o.Enqueue(context.Background(), f)
		if err != nil {
			tb.Fatal(err)
		}
		wants[f.MaHoSo] = [2]string{r.IdempotencyKey, sha(f.Body)}
	}
	return wants
}

// waitDrained waits until nothing is pending, failing on any dead letter.
func waitDrained(tb testing.TB, o *outbox.Outbox, within time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for {
		st, err := o.Stats(context.Background())
		if err != nil {
			tb.Fatal(err)
		}
		if st.DeadLetters > 0 {
			tb.Fatalf("dead letters: %+v", st)
		}
		if st.Pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("queue not drained within %s: %+v", within, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOutboxThroughFaultProxy drives a real outbox, forwarding through the
// Client, to a refbackend behind an in-process toxiproxy on 127.0.0.1 (the ward
// filing issue: reset, timeout, backend down). In each case the fault is put in
// place, N filings are queued while it holds, the fault is removed, and then
// every filing must be stored exactly once in effect (one record per MaHoSo
// under its own idempotency key and body hash, deliveries ≥ 1) with the outbox
// at 0 pending and 0 dead letters.
//
// Backoff and breaker are scaled down so the test is fast (base 5ms, cap 50ms,
// breaker 3 failures / 100ms); the production defaults are base 1s, cap 30s,
// breaker 5 failures / 25s cool-down (see BenchmarkBacklogDrainAfterOutage).
func TestOutboxThroughFaultProxy(t *testing.T) {
	const n = 20
	cases := []struct {
		name string
		// clientTimeout is backend.Config.Timeout.
		clientTimeout time.Duration
		hold          time.Duration
		// apply puts the fault in place; it returns the function removing it.
		apply func(t *testing.T, p *toxiproxy.Proxy) (remove func())
		// wantReason must be among the reasons of the failed attempts.
		wantReason string
	}{
		{
			// The answer's direction is reset (RST, linger 0) 5ms after its first
			// byte: connections die mid-handshake or mid-exchange, some after the
			// backend stored the filing and before the kiosk read the answer.
			name: "reset_peer", clientTimeout: 5 * time.Second, hold: 500 * time.Millisecond,
			apply: func(t *testing.T, p *toxiproxy.Proxy) func() {
				return addToxic(t, p, `{"name":"reset","type":"reset_peer","stream":"downstream","toxicity":1,"attributes":{"timeout":5}}`)
			},
			wantReason: "network",
		},
		{
			// Connections are accepted and then hang: nothing flows either way.
			// Only the client's Timeout (300ms here) ends an attempt, which the
			// outbox must retry.
			name: "timeout", clientTimeout: 300 * time.Millisecond, hold: time.Second,
			apply: func(t *testing.T, p *toxiproxy.Proxy) func() {
				return addToxic(t, p, `{"name":"hang","type":"timeout","stream":"upstream","toxicity":1,"attributes":{"timeout":0}}`)
			},
			wantReason: "timeout",
		},
		{
			// The proxy stops listening and drops its connections: connection
			// refused, as with the backend down, until it is enabled again.
			name: "down", clientTimeout: 5 * time.Second, hold: 500 * time.Millisecond,
			apply: func(t *testing.T, p *toxiproxy.Proxy) func() {
				p.Stop()
				return func() {
					if err := p.Start(); err != nil {
						t.Fatal(err)
					}
				}
			},
			wantReason: "network",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, pki := startBackend(t, refbackend.Options{})
			p, proxyURL := startFaultProxy(t, srv)
			rec := &recordingForwarder{next: newClient(t, proxyURL, pki, pki, tc.clientTimeout)}
			o := startOutbox(t, outbox.Options{
				StateDir: t.TempDir(), Key: make([]byte, 32), Forwarder: rec,
				BackoffBase: 5 * time.Millisecond, BackoffCap: 50 * time.Millisecond,
				BreakerThreshold: 3, BreakerCooldown: 100 * time.Millisecond,
				ForwardTimeout: 10 * time.Second,
			})

			remove := tc.apply(t, p)
			wants := enqueueFilings(t, o, n)
			time.Sleep(tc.hold)
			remove()
			during, failed, _ := rec.snapshot()
			waitDrained(t, o, 20*time.Second)

			if during[tc.wantReason] == 0 {
				t.Errorf("fault not exercised: failures during the fault %v, want some %q", during, tc.wantReason)
			}
			got := srv.Filings()
			if len(got) != n {
				t.Fatalf("%d dossiers stored, want %d", len(got), n)
			}
			deliveries := 0
			for _, f := range got {
				w, ok := wants[f.MaHoSo]
				if !ok || f.IdempotencyKey != w[0] || f.SHA256 != w[1] || f.Deliveries < 1 {
					t.Errorf("stored %+v, want key %s sha256 %s", f, w[0], w[1])
				}
				deliveries += f.Deliveries
			}
			all, _, ok := rec.snapshot()
			t.Logf("%d filings, %d failed attempts during the fault %v (all: %v), %d successes, %d deliveries at the backend",
				n, failed, during, all, len(ok), deliveries)
		})
	}
}

// addToxic adds a toxic (toxiproxy's JSON form) to p and returns its removal.
func addToxic(t *testing.T, p *toxiproxy.Proxy, spec string) func() {
	t.Helper()
	w, err := p.Toxics.AddToxicJson(strings.NewReader(spec))
	if err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := p.Toxics.RemoveToxic(context.Background(), w.Name); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkBacklogDrainAfterOutage measures how long a kiosk with a backlog
// takes to resume delivering once the backend comes back after an outage long
// enough for the retry backoff to reach its cap.
//
// How: a real outbox with the PRODUCTION backoff and breaker defaults (base 1s,
// cap 30s, breaker 5 consecutive failures / 25s cool-down, the zero Options)
// forwards through the Client and an in-process toxiproxy to a refbackend. The
// proxy is disabled (connection refused), 20 filings are queued, and the proxy
// is enabled again right after the head filing's 6th failed attempt, the first
// whose backoff bound, 1s·2^5, is clipped to the 30s cap. That attempt is also
// the breaker's half-open probe, so its failure re-opens the breaker for a full
// cool-down: this is the worst moment for the backend to come back, and the
// figure is the worst case. It reports "s-to-first-delivery", the seconds from
// the backend coming back to the first filing delivered (target ≤ 30s), and
// "s-to-drain", to the whole backlog delivered.
//
// One iteration lasts about a minute (≈ 15s of backoff, a 25s cool-down before
// the 6th attempt, then up to 25s more), so run it once only:
//
//	go test -run '^$' -bench BacklogDrainAfterOutage -benchtime 1x ./kiosk/backend/
func BenchmarkBacklogDrainAfterOutage(b *testing.B) {
	const n = 20
	for b.Loop() {
		srv, pki := startBackend(b, refbackend.Options{})
		p, proxyURL := startFaultProxy(b, srv)
		capped := make(chan struct{})
		var once sync.Once
		rec := &recordingForwarder{next: newClient(b, proxyURL, pki, pki, 0)}
		rec.onFailure = func(d outbox.Delivery) {
			if d.Attempt >= 6 {
				once.Do(func() { close(capped) })
			}
		}
		p.Stop()
		o := startOutbox(b, outbox.Options{StateDir: b.TempDir(), Key: make([]byte, 32), Forwarder: rec})
		enqueueFilings(b, o, n)
		select {
		case <-capped:
		case <-time.After(5 * time.Minute):
			b.Fatal("the 6th attempt never came")
		}
		if err := p.Start(); err != nil {
			b.Fatal(err)
		}
		back := time.Now()
		waitDrained(b, o, 5*time.Minute)
		drained := time.Since(back)
		_, failed, ok := rec.snapshot()
		if len(ok) == 0 || len(srv.Filings()) != n {
			b.Fatalf("%d successes, %d stored, want %d", len(ok), len(srv.Filings()), n)
		}
		first := ok[0].Sub(back)
		b.ReportMetric(first.Seconds(), "s-to-first-delivery")
		b.ReportMetric(drained.Seconds(), "s-to-drain")
		b.Logf("backend back after %d failed attempts; first delivery %.1fs later, backlog of %d drained %.1fs later",
			failed, first.Seconds(), n, drained.Seconds())
	}
}
