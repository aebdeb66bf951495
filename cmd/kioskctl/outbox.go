package main

import (
	"context"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/control"
	"github.com/vnkiosk/kiosk/kiosk/submission"
)

func init() {
	register("filing submit", "hand a filing to the running kioskd as a finished UI flow does; prints its MaHoSo once queued", runFilingSubmit)
	register("outbox", "show the outbox: pending filings, oldest age, dead letters", runOutbox)
	register("outbox retry", "send a dead-lettered filing again: kioskctl outbox retry ID", runOutboxRetry)
}

// attachFlags collects repeated --attach FILE flags.
type attachFlags []string

func (a *attachFlags) String() string     { return strings.Join(*a, ",") }
func (a *attachFlags) Set(s string) error { *a = append(*a, s); return nil }

func runFilingSubmit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("filing submit", stderr)
	file := fs.String("file", "", "the filing JSON ('kioskctl filing example' prints one)")
	socket := fs.String("socket", "", "control socket of the daemon (default: found automatically)")
	var attach attachFlags
	fs.Var(&attach, "attach", "a document of the filing (PDF, JPEG or PNG); repeatable")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return usageError{"--file is required"}
	}
	raw, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	req := submission.Request{Filing: raw}
	for _, a := range attach {
		data, err := os.ReadFile(a)
		if err != nil {
			return err
		}
		ct := mime.TypeByExtension(strings.ToLower(filepath.Ext(a)))
		if ct == "" {
			return fmt.Errorf("%s: unknown document type; use a .pdf, .jpg or .png file", a)
		}
		req.Attachments = append(req.Attachments, submission.Attachment{Name: filepath.Base(a), ContentType: ct, Data: data})
	}
	p, err := control.FindSocket(*socket)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rec, err := submission.SubmitVia(ctx, control.NewClient(p), req)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\nĐã tiếp nhận hồ sơ %s (hàng đợi #%d); hồ sơ sẽ được gửi đi kể cả khi mất mạng.\nFiling %s queued (outbox #%d); it will be delivered even if the network drops.\n",
		rec.MaHoSo, rec.MaHoSo, rec.OutboxID, rec.MaHoSo, rec.OutboxID)
	return nil
}

func runOutbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	q, err := newDaemonQuery("outbox", args, stderr)
	if err != nil {
		return err
	}
	v, printed, err := ask(ctx, q, stdout, func(c *control.Client, ctx context.Context) (submission.OutboxView, error) {
		return submission.OutboxVia(ctx, c)
	})
	if err != nil || printed {
		return err
	}
	st := v.Stats
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "pending\t%d\n", st.Pending)
	fmt.Fprintf(w, "oldest\t%s\n", st.OldestAge.Round(time.Second))
	fmt.Fprintf(w, "dead letters\t%d\n", st.DeadLetters)
	fmt.Fprintf(w, "breaker\t%v\n", st.Breaker)
	if st.LastError != "" {
		fmt.Fprintf(w, "last error\t%s (%s)\n", st.LastError, st.LastErrorAt.Format(time.RFC3339))
	}
	if st.StorageFull {
		fmt.Fprintf(w, "storage\tFULL: new filings are refused\n")
	}
	w.Flush()
	if len(v.Entries) == 0 {
		return nil
	}
	fmt.Fprintln(stdout)
	w = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSTATE\tQUEUED\tATTEMPTS\tLAST ERROR")
	for _, e := range v.Entries {
		fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%s\n", e.ID, e.State, e.CreatedAt.Format(time.RFC3339), e.Attempts, e.LastError)
	}
	return w.Flush()
}

func runOutboxRetry(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("outbox retry", stderr)
	socket := fs.String("socket", "", "control socket of the daemon (default: found automatically)")
	if err := fs.Parse(args); err != nil {
		return usageError{}
	}
	if fs.NArg() != 1 {
		return usageError{"expected one outbox ID (see kioskctl outbox)"}
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil {
		return usageError{"the outbox ID is a number"}
	}
	p, err := control.FindSocket(*socket)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := submission.RetryVia(ctx, control.NewClient(p), id); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "outbox #%d will be sent again\n", id)
	return nil
}
