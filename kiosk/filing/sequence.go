package filing

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vnkiosk/kiosk/internal/atomicfile"
)

// Sequence hands out the day's dossier numbers (the NNNN of MaHoSo), persisted
// in a small file so that a restart never reuses a number. A number is written
// to disk before it is handed out: a crash may skip one, never repeat one.
type Sequence struct {
	path string
	mu   sync.Mutex
}

// NewSequence keeps the counter in dir/name.
func NewSequence(dir, name string) *Sequence {
	return &Sequence{path: filepath.Join(dir, name)}
}

// ErrSequenceExhausted is returned after 9999 dossiers in one day.
var ErrSequenceExhausted = errors.New("dossier numbering: 9999 dossiers today, the day's numbers are used up")

// Next returns the next number for t's day in Vietnam, starting at 1 each day.
func (s *Sequence) Next(t time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	day := t.In(Vietnam).Format("060102")
	n := 0
	b, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return 0, fmt.Errorf("dossier numbering: %w", err)
	default:
		d, v, ok := strings.Cut(strings.TrimSpace(string(b)), " ")
		last, perr := strconv.Atoi(v)
		if !ok || perr != nil || len(d) != 6 || last < 0 || last > 9999 {
			return 0, fmt.Errorf("dossier numbering: %s is damaged (%q); remove it only if no dossier was filed today", s.path, b)
		}
		if d == day {
			n = last
		}
	}
	n++
	if n > 9999 {
		return 0, ErrSequenceExhausted
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return 0, fmt.Errorf("dossier numbering: %w", err)
	}
	if err := atomicfile.Write(s.path, fmt.Appendf(nil, "%s %d\n", day, n), 0o600); err != nil {
		return 0, fmt.Errorf("dossier numbering: %w", err)
	}
	return n, nil
}
