package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/audit"
	"github.com/vnkiosk/kiosk/kiosk/control"
)

func init() {
	register("audit export", "write the staff audit log since a day as CSV: kioskctl audit export --since YYYY-MM-DD [--out FILE]", runAuditExport)
}

func runAuditExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit export", stderr)
	socket := fs.String("socket", "", "control socket of the daemon (default: found automatically)")
	sinceFlag := fs.String("since", "", "first day to export, YYYY-MM-DD in Vietnam time (required)")
	out := fs.String("out", "", "write the CSV to FILE (mode 0600) instead of stdout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *sinceFlag == "" {
		return usageError{"--since YYYY-MM-DD is required"}
	}
	since, err := audit.ParseDay(*sinceFlag)
	if err != nil {
		return usageError{"--since: " + err.Error()}
	}
	p, err := control.FindSocket(*socket)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	c := control.NewClient(p)
	if *out == "" {
		return audit.ExportVia(ctx, c, since, stdout)
	}
	// Written beside the target and renamed into place, so an export cut off
	// half-way never leaves a file that looks complete.
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".audit-*.csv")
	if err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := audit.ExportVia(ctx, c, since, tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := errors.Join(tmp.Sync(), tmp.Close()); err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	return nil
}
