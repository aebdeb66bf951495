package backend_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/backend/refbackend"
	"github.com/vnkiosk/kiosk/kiosk/outbox"
)

// TestOutboxEndToEnd queues filings in a real outbox that forwards them through
// the Client to a refbackend failing 30% of requests with 500 and dropping the
// answer of 10% after storing: every filing ends up stored once, under its own
// idempotency key, with the body unchanged, and the queue empties.
func TestOutboxEndToEnd(t *testing.T) {
	const n = 100
	srv, pki := startBackend(t, refbackend.Options{ErrorRate: 0.3, DropRate: 0.1, Seed: 7})
	c := newClient(t, srv.URL(), pki, pki, 5*time.Second)
	o := startOutbox(t, outbox.Options{
		StateDir: t.TempDir(), Key: make([]byte, 32), Forwarder: c,
		BackoffBase: time.Millisecond, BackoffCap: 10 * time.Millisecond,
		BreakerThreshold: 1000, BreakerCooldown: 10 * time.Millisecond,
	})
	ctx := context.Background()

	type want struct{ key, sha string }
	wants := map[string]want{}
	for i := range n {
		f := delivery(i, "").Filing
		f.Body = fmt.Appendf(nil, `{"ChuHoSo":"Nguyễn Văn An","TrichYeuHoSo":"Đăng ký khai sinh %d"}`, i)
		r, err := o.Enqueue(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		wants[f.MaHoSo] = want{r.IdempotencyKey, sha(f.Body)}
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := o.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.DeadLetters > 0 {
			t.Fatalf("dead letters: %+v", st)
		}
		if st.Pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue not drained: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}

	got := srv.Filings()
	if len(got) != n {
		t.Fatalf("%d dossiers stored, want %d", len(got), n)
	}
	deliveries := 0
	for _, f := range got {
		w, ok := wants[f.MaHoSo]
		if !ok || f.IdempotencyKey != w.key || f.SHA256 != w.sha || f.Deliveries < 1 {
			t.Errorf("stored %+v, want key %s sha256 %s", f, w.key, w.sha)
		}
		deliveries += f.Deliveries
	}
	fc := srv.Faults()
	if fc.Errors == 0 || fc.Drops == 0 || deliveries <= n {
		t.Errorf("faults were not exercised: %+v, %d deliveries for %d filings", fc, deliveries, n)
	}
	t.Logf("%d filings, %d requests, %d 500s, %d drops, %d deliveries", n, fc.Requests, fc.Errors, fc.Drops, deliveries)
}
