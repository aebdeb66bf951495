package outbox

import (
	"encoding/hex"
	"testing"

	"github.com/vnkiosk/kiosk/kiosk/logging"
)

func TestIdempotencyKeySurvivesLogRedaction(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 5000 {
		k := newIdempotencyKey()
		if b, err := hex.DecodeString(k); err != nil || len(b) != 16 {
			t.Fatalf("key %q is not 128-bit hex", k)
		}
		if logging.Scrub(k) != k {
			t.Fatalf("key %q is mangled by log redaction: %q", k, logging.Scrub(k))
		}
		if seen[k] {
			t.Fatalf("key %q drawn twice", k)
		}
		seen[k] = true
	}
}
