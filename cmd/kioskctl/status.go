package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/kiosk/control"
	"github.com/vnkiosk/kiosk/kiosk/version"
)

func init() {
	register("status", "show the running kioskd's version, uptime and subsystem health", runStatus)
	register("devices", "list the kiosk's devices and their health (ok, degraded, absent)", runDevices)
	register("config check", "validate a configuration file: kioskctl config check FILE", runConfigCheck)
	register("version", "print kioskctl's version", func(_ context.Context, _ []string, stdout, _ io.Writer) error {
		v := version.Get()
		fmt.Fprintln(stdout, "kioskctl", v.Version, v.Revision, v.GoVersion)
		return nil
	})
}

// daemonQuery is what every command that asks the running daemon shares: the
// --socket and --json flags, the daemon found, and a deadline on the question.
type daemonQuery struct {
	client *control.Client
	json   bool
}

func newDaemonQuery(name string, args []string, stderr io.Writer) (*daemonQuery, error) {
	fs := newFlags(name, stderr)
	socket := fs.String("socket", "", "control socket of the daemon (default: found automatically)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	p, err := control.FindSocket(*socket)
	if err != nil {
		return nil, err
	}
	return &daemonQuery{client: control.NewClient(p), json: *asJSON}, nil
}

// ask runs f with a 5 s deadline and, with --json, prints its answer as JSON;
// otherwise it returns the answer for the caller to print.
func ask[T any](ctx context.Context, q *daemonQuery, stdout io.Writer, f func(*control.Client, context.Context) (T, error)) (T, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := f(q.client, ctx)
	if err != nil || !q.json {
		return v, false, err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return v, true, enc.Encode(v)
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	q, err := newDaemonQuery("status", args, stderr)
	if err != nil {
		return err
	}
	st, printed, err := ask(ctx, q, stdout, (*control.Client).Status)
	if err != nil || printed {
		return err
	}
	ready := "yes"
	if !st.Ready {
		ready = "no"
	}
	fmt.Fprintf(stdout, "kioskd %s", st.Version)
	if st.Revision != "" {
		fmt.Fprintf(stdout, " (%s)", st.Revision)
	}
	fmt.Fprintln(stdout)
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "kiosk\t%s (%s %s)\n", st.KioskID, st.SiteKind, st.SiteCode)
	fmt.Fprintf(w, "uptime\t%s\n", (time.Duration(st.UptimeSec) * time.Second).String())
	fmt.Fprintf(w, "config\t%s\n", st.ConfigPath)
	fmt.Fprintf(w, "ready\t%s\n", ready)
	if st.UIURL != "" {
		fmt.Fprintf(w, "ui\t%s\n", st.UIURL)
	}
	if st.Demo {
		fmt.Fprintf(w, "mode\tdemo (simulated devices)\n")
	}
	w.Flush()
	fmt.Fprintln(stdout, "\nsubsystems:")
	w = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, s := range st.Subsystems {
		fmt.Fprintf(w, "  %s\t%s\t%s\n", s.Name, s.State, s.Reason)
	}
	return w.Flush()
}

func runConfigCheck(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("config check", stderr)
	if err := fs.Parse(args); err != nil {
		return usageError{}
	}
	if fs.NArg() != 1 {
		return usageError{"expected one FILE"}
	}
	c, err := config.Load(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("configuration is not valid:\n%w", err)
	}
	fmt.Fprintf(stdout, "%s: ok (kiosk %s, %s site %s)\n", fs.Arg(0), c.Kiosk.ID, c.Site.Kind, c.Site.Code)
	return nil
}

func runDevices(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	q, err := newDaemonQuery("devices", args, stderr)
	if err != nil {
		return err
	}
	ds, printed, err := ask(ctx, q, stdout, (*control.Client).Devices)
	if err != nil || printed {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "DEVICE\tSTATE\tATTACHED AS\tREASON")
	for _, d := range ds {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", d.Name, d.State, d.Attachment, d.Reason)
	}
	return w.Flush()
}
