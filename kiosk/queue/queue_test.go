package queue

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const childEnv = "QUEUE_KILL9_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(childMain(dir))
	}
	os.Exit(m.Run())
}

func open(t *testing.T, dir string) *Queue {
	t.Helper()
	q, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func next(t *testing.T, q *Queue, dept string, now time.Time) Ticket {
	t.Helper()
	tk, err := q.Next(context.Background(), dept, now)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

var morning = time.Date(2026, 3, 9, 8, 0, 0, 0, Vietnam)

func TestNextCountsPerDepartment(t *testing.T) {
	t.Parallel()
	q := open(t, t.TempDir())
	for want := 1; want <= 3; want++ {
		tk := next(t, q, "KHAM", morning.Add(time.Duration(want)*time.Minute))
		if tk.Number != want || tk.Department != "KHAM" || tk.Day != "2026-03-09" || !tk.IssuedAt.Equal(morning.Add(time.Duration(want)*time.Minute)) {
			t.Errorf("ticket %d: %+v", want, tk)
		}
	}
	// Another department counts on its own.
	if tk := next(t, q, "NHI", morning); tk.Number != 1 {
		t.Errorf("NHI first ticket %d", tk.Number)
	}
	if tk := next(t, q, "KHAM", morning); tk.Number != 4 {
		t.Errorf("KHAM after NHI: %d", tk.Number)
	}
	cs, err := q.Today(context.Background(), morning)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].Department != "KHAM" || cs[0].Issued != 4 || cs[1].Department != "NHI" || cs[1].Issued != 1 {
		t.Errorf("Today: %+v", cs)
	}
	if !cs[0].LastAt.Equal(morning) {
		t.Errorf("KHAM last at %v", cs[0].LastAt)
	}
}

func TestNextResetsAtVietnamMidnight(t *testing.T) {
	t.Parallel()
	q := open(t, t.TempDir())
	before := time.Date(2026, 3, 9, 16, 59, 59, 0, time.UTC) // 23:59:59 on the 9th in Vietnam
	after := time.Date(2026, 3, 9, 17, 0, 0, 0, time.UTC)    // 00:00:00 on the 10th
	for range 3 {
		next(t, q, "KHAM", before)
	}
	if tk := next(t, q, "KHAM", before); tk.Number != 4 || tk.Day != "2026-03-09" {
		t.Errorf("before midnight: %+v", tk)
	}
	if tk := next(t, q, "KHAM", after); tk.Number != 1 || tk.Day != "2026-03-10" {
		t.Errorf("after midnight: %+v", tk)
	}
	// UTC midnight is 07:00 in Vietnam: not a new day.
	if tk := next(t, q, "KHAM", time.Date(2026, 3, 10, 0, 0, 1, 0, time.UTC)); tk.Number != 2 {
		t.Errorf("at UTC midnight: %+v", tk)
	}
	if cs, _ := q.Today(context.Background(), before); len(cs) != 1 || cs[0].Issued != 4 {
		t.Errorf("yesterday's count: %+v", cs)
	}
}

func TestNextSurvivesRestartAndResetsNextDay(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	q, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		next(t, q, "KHAM", morning)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q = open(t, dir)
	if tk := next(t, q, "KHAM", morning.Add(time.Hour)); tk.Number != 6 {
		t.Errorf("after restart the same day: %+v", tk)
	}
	q.Close()
	// Restarted after midnight: the new day starts at 1.
	q = open(t, dir)
	if tk := next(t, q, "KHAM", morning.Add(24*time.Hour)); tk.Number != 1 || tk.Day != "2026-03-10" {
		t.Errorf("after restart the next day: %+v", tk)
	}
	fi, err := os.Stat(filepath.Join(dir, DatabaseFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("database file mode: %v %v", fi.Mode(), err)
	}
}

func TestNextConcurrentNumbersAreDistinct(t *testing.T) {
	t.Parallel()
	q := open(t, t.TempDir())
	const workers, each = 8, 25
	var mu sync.Mutex
	seen := map[int]bool{}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				tk, err := q.Next(context.Background(), "KHAM", morning)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[tk.Number] {
					t.Errorf("number %d handed out twice", tk.Number)
				}
				seen[tk.Number] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for n := 1; n <= workers*each; n++ {
		if !seen[n] {
			t.Errorf("number %d never handed out", n)
		}
	}
}

func TestTwoProcessesShareOneCounter(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := open(t, dir), open(t, dir)
	got := []int{next(t, a, "KHAM", morning).Number, next(t, b, "KHAM", morning).Number, next(t, a, "KHAM", morning).Number}
	if got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Errorf("alternating openers got %v", got)
	}
}

func TestNextPrunesOldDays(t *testing.T) {
	t.Parallel()
	q := open(t, t.TempDir())
	old := morning.AddDate(0, 0, -KeepDays-1)
	next(t, q, "KHAM", old)
	next(t, q, "KHAM", morning.AddDate(0, 0, -KeepDays)) // exactly KeepDays back: kept
	if cs, _ := q.Today(context.Background(), old); len(cs) != 1 {
		t.Fatalf("old day before pruning: %+v", cs)
	}
	next(t, q, "KHAM", morning)
	if cs, _ := q.Today(context.Background(), old); len(cs) != 0 {
		t.Errorf("day %d days back not pruned: %+v", KeepDays+1, cs)
	}
	if cs, _ := q.Today(context.Background(), morning.AddDate(0, 0, -KeepDays)); len(cs) != 1 {
		t.Errorf("day %d days back pruned: %+v", KeepDays, cs)
	}
}

func TestNextRejectsBadDepartment(t *testing.T) {
	t.Parallel()
	q := open(t, t.TempDir())
	for _, d := range []string{"", "KHAM BENH", "A\x00", strings.Repeat("K", 33)} {
		if _, err := q.Next(context.Background(), d, morning); !errors.Is(err, ErrBadDepartment) {
			t.Errorf("Next(%q): %v", d, err)
		}
	}
}

func TestLabel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		prefix string
		n      int
		want   string
	}{{"K", 12, "K012"}, {"", 7, "007"}, {"NHI", 1, "NHI001"}, {"K", 999, "K999"}, {"K", 1000, "K1000"}} {
		if got := Label(tc.prefix, tc.n); got != tc.want {
			t.Errorf("Label(%q, %d) = %q, want %q", tc.prefix, tc.n, got, tc.want)
		}
	}
	if got := (Ticket{Number: 42}).Label("A"); got != "A042" {
		t.Errorf("Ticket.Label = %q", got)
	}
}

// childMain is a kiosk handing out tickets as fast as it can; after each Next
// returns it writes the number to stdout, a pipe write that survives SIGKILL.
func childMain(dir string) int {
	q, err := Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	for {
		tk, err := q.Next(context.Background(), "KHAM", morning)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		fmt.Printf("%d\n", tk.Number)
	}
}

// TestKill9NeverRepeats kills a process handing out tickets at random moments
// and checks that the restarted counter continues past every number any killed
// process handed out: a crash may skip a number, never repeat one.
func TestKill9NeverRepeats(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes")
	}
	t.Parallel()
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	handed := map[int]bool{}
	for round := range 5 {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		// Let it hand out a varying number of tickets, then kill it mid-stream.
		for i := 0; i < 20+round*17 && sc.Scan(); i++ {
			n, _ := strconv.Atoi(sc.Text())
			if handed[n] {
				t.Fatalf("round %d: number %d handed out twice", round, n)
			}
			handed[n] = true
		}
		cmd.Process.Kill()
		for sc.Scan() { // numbers written before the kill landed
			n, _ := strconv.Atoi(sc.Text())
			if handed[n] {
				t.Fatalf("round %d: number %d handed out twice", round, n)
			}
			handed[n] = true
		}
		cmd.Wait()
		if strings.TrimSpace(stderr.String()) != "" {
			t.Fatalf("child: %s", stderr.String())
		}
	}
	q := open(t, dir)
	tk := next(t, q, "KHAM", morning)
	for n := range handed {
		if n >= tk.Number {
			t.Errorf("after the kills Next gave %d, but %d was already handed out", tk.Number, n)
		}
	}
	if len(handed) == 0 {
		t.Fatal("no ticket handed out")
	}
}
