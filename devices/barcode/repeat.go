package barcode

import (
	"crypto/sha256"
	"time"
)

// maxRemembered bounds the repeat filter's memory against a flood of distinct
// codes (a noisy line, someone waving a sheet of codes).
const maxRemembered = 256

// repeatFilter delivers a payload once per window. The window slides: a code left
// lying under a presentation scanner, re-read every few hundred milliseconds, is
// delivered once however long it stays; taking it away for longer than the window
// and showing it again delivers it again, which is what a citizen who scans twice
// on purpose expects. Payloads are remembered by their SHA-256 so that the filter,
// which outlives each scan, holds no card data.
type repeatFilter struct {
	window time.Duration // <= 0: deliver everything
	seen   map[[sha256.Size]byte]time.Time
}

func newRepeatFilter(window time.Duration) *repeatFilter {
	return &repeatFilter{window: window, seen: make(map[[sha256.Size]byte]time.Time)}
}

// admit reports whether payload, read at now, should be delivered.
func (f *repeatFilter) admit(payload []byte, now time.Time) bool {
	if f.window <= 0 {
		return true
	}
	for k, at := range f.seen {
		if now.Sub(at) >= f.window {
			delete(f.seen, k)
		}
	}
	key := sha256.Sum256(payload)
	_, repeated := f.seen[key]
	if !repeated && len(f.seen) >= maxRemembered {
		clear(f.seen)
	}
	f.seen[key] = now
	return !repeated
}
