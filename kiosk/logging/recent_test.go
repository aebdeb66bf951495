package logging

import (
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

func TestRecent(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		writes []string
		want   []string
	}{
		{"empty", nil, []string{}},
		{"two", []string{"a\nb\n"}, []string{"a", "b"}},
		{"split line", []string{"he", "llo\nwor", "ld\n"}, []string{"hello", "world"}},
		{"wraps", []string{"1\n2\n3\n4\n5\n"}, []string{"3", "4", "5"}},
		{"unterminated kept back", []string{"1\n2"}, []string{"1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRecent(3)
			for _, w := range tt.writes {
				if n, err := r.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if got := r.Lines(); !reflect.DeepEqual(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("Lines() = %q, want %q", got, tt.want)
			}
		})
	}
}

// The kept lines are the redacted ones: what the technician screen shows.
func TestRecentIsRedacted(t *testing.T) {
	t.Parallel()
	r := NewRecent(10)
	log := New(io.MultiWriter(io.Discard, r), slog.LevelInfo)
	log.Info("card read", "full_name", "Nguyễn Văn An", "err", fmt.Errorf("reader said 001083012345"))
	got := strings.Join(r.Lines(), "\n")
	if strings.Contains(got, "Nguyễn") || strings.Contains(got, "001083012345") || !strings.Contains(got, "card read") {
		t.Errorf("recent lines: %s", got)
	}
}
