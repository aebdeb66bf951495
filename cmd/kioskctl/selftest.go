package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/vnkiosk/kiosk/provisioning/selftest"
)

func init() {
	register("selftest", "test every device, the backend, the clock, disk space and the certificate; exit 1 if any check fails", runSelftest)
}

// selftestDeadline leaves room for kioskd's per-check timeout: the checks run
// concurrently, so the whole takes about as long as the slowest.
const selftestDeadline = 60 * time.Second

// errSelftestFailed makes Main exit 1 after the report is printed.
type errSelftestFailed struct{ failed int }

func (e errSelftestFailed) Error() string {
	return fmt.Sprintf("%d check(s) failed", e.failed)
}

func runSelftest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	q, err := newDaemonQuery("selftest", args, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, selftestDeadline)
	defer cancel()
	var rep selftest.Report
	if err := q.client.Do(ctx, http.MethodPost, "/v1/selftest", nil, &rep); err != nil {
		return err
	}
	if q.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if err := printSelftest(stdout, rep); err != nil {
		return err
	}
	if rep.Failed() {
		n := 0
		for _, c := range rep.Checks {
			if c.Status == selftest.Fail {
				n++
			}
		}
		return errSelftestFailed{n}
	}
	return nil
}

var selftestMarks = map[selftest.Status]string{selftest.OK: "✓", selftest.Warn: "!", selftest.Fail: "✗"}

// printSelftest prints one line per check — mark, name, reason — and the
// hint under the reason of each that is not ok, then a count.
func printSelftest(w io.Writer, rep selftest.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	counts := map[selftest.Status]int{}
	for _, c := range rep.Checks {
		counts[c.Status]++
		mark, ok := selftestMarks[c.Status]
		if !ok {
			mark = "?"
		}
		fmt.Fprintf(tw, "%s %s\t%s\t%s\n", mark, c.Name, c.Status, c.Reason)
		if c.Hint != "" && c.Status != selftest.OK {
			fmt.Fprintf(tw, "\t\t→ %s\n", c.Hint)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d ok, %d warning(s), %d failed\n", counts[selftest.OK], counts[selftest.Warn], counts[selftest.Fail])
	return err
}
