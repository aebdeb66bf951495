package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vnkiosk/kiosk/kiosk/daemon"
	"github.com/vnkiosk/kiosk/kiosk/outbox"
	"github.com/vnkiosk/kiosk/kiosk/outbox/internal/outboxtest"
)

// TestStorageFullRefusesAndKeepsQueue makes the database unable to grow with
// PRAGMA max_page_count a few pages above its current size, so the next large
// filing fails inside SQLite with SQLITE_FULL: the same result code SQLite
// returns when the filesystem has no space left (a short write or ENOSPC), taking
// the same path through Enqueue. It proves that:
//   - Enqueue refuses the filing with a *RefusedError wrapping ErrStorageFull,
//     carrying the Vietnamese and English citizen messages;
//   - the failed transaction leaves nothing behind (no row, no attachment);
//   - the filings already queued are intact and delivered byte for byte, and
//     purging them works while the database is full;
//   - health shows it, and once room returns new filings are accepted again.
//
// It does not exercise a real kernel ENOSPC (that needs a small filesystem,
// which needs root to mount); isFull's unit test covers the ENOSPC mapping.
func TestStorageFullRefusesAndKeepsQueue(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	gate := make(chan struct{})
	f := newScripted(func(outbox.Delivery) error { <-gate; return nil })
	o := start(t, baseOptions(dir, f))
	ctx := context.Background()

	want := map[string]string{} // key -> content hash
	for i := range 3 {
		fl := filing(i, 2, 20_000)
		want[enqueue(t, o, fl).IdempotencyKey] = outboxtest.ContentHash(fl)
	}
	waitFor(t, "first delivery in flight", func() bool { return stats(t, o).InFlight })

	db := outbox.DBOf(o)
	var pages, free int64
	if err := db.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("PRAGMA freelist_count").Scan(&free); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages+4)); err != nil {
		t.Fatal(err)
	}

	// Three scanned pages of 200 KB need ~150 pages of 4 KiB; there are 4 + free.
	big := filing(99, 3, 200_000)
	_, err := o.Enqueue(ctx, big)
	var re *outbox.RefusedError
	if !errors.As(err, &re) || !errors.Is(err, outbox.ErrStorageFull) {
		t.Fatalf("enqueue on a full database: %v (pages %d, free %d)", err, pages, free)
	}
	if !strings.Contains(re.Vietnamese(), "CHƯA được gửi") || !strings.Contains(re.Vietnamese(), "quầy") ||
		!strings.Contains(re.English(), "NOT been submitted") || !strings.Contains(re.English(), "counter") {
		t.Errorf("citizen messages: %q / %q", re.Vietnamese(), re.English())
	}
	if h := o.Health(); h.State != daemon.StateDegraded || !strings.Contains(h.Reason, "storage full") {
		t.Errorf("health when full: %+v", h)
	}
	s := stats(t, o)
	if s.Pending != 3 || !s.StorageFull {
		t.Fatalf("stats after the refusal: %+v", s)
	}
	var rows, atts int
	if err := db.QueryRow("SELECT (SELECT COUNT(*) FROM outbox), (SELECT COUNT(*) FROM attachment)").Scan(&rows, &atts); err != nil {
		t.Fatal(err)
	}
	if rows != 3 || atts != 6 {
		t.Fatalf("after the refused filing: %d rows, %d attachments; want 3, 6", rows, atts)
	}

	close(gate)
	for range 3 {
		g := f.next(t)
		if h, ok := want[g.Key]; !ok || h != g.Hash {
			t.Fatalf("delivery %+v does not match what was queued", g)
		}
		delete(want, g.Key)
	}
	waitFor(t, "queue drained", func() bool { return stats(t, o).Pending == 0 })

	if _, err := db.Exec("PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	r := enqueue(t, o, big)
	if g := f.next(t); g.Key != r.IdempotencyKey || g.Hash != outboxtest.ContentHash(big) {
		t.Fatalf("after room returned: %+v", g)
	}
	waitFor(t, "healthy", func() bool { return o.Health().State == daemon.StateOK })
}
