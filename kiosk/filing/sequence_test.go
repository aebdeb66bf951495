package filing

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSequence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := NewSequence(dir, "seq")
	// 16:59 UTC and 17:01 UTC are two different days in Vietnam.
	day1 := time.Date(2026, 11, 22, 16, 59, 0, 0, time.UTC)
	day2 := time.Date(2026, 11, 22, 17, 1, 0, 0, time.UTC)
	for _, tt := range []struct {
		at   time.Time
		want int
		s    *Sequence
	}{
		{day1, 1, s}, {day1, 2, s},
		{day1, 3, NewSequence(dir, "seq")}, // a restart continues the day
		{day2, 1, s}, {day2, 2, s},
	} {
		got, err := tt.s.Next(tt.at)
		if err != nil || got != tt.want {
			t.Fatalf("Next(%v) = %d, %v; want %d", tt.at, got, err, tt.want)
		}
	}
}

func TestSequenceErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	at := time.Date(2026, 11, 22, 9, 0, 0, 0, Vietnam)
	if err := os.WriteFile(filepath.Join(dir, "full"), []byte("261122 9999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSequence(dir, "full").Next(at); !errors.Is(err, ErrSequenceExhausted) {
		t.Errorf("after 9999: %v, want ErrSequenceExhausted", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSequence(dir, "bad").Next(at); err == nil {
		t.Error("a damaged counter file was accepted: numbers could repeat")
	}
}
