package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/vnkiosk/kiosk/kiosk/filing"
	"github.com/vnkiosk/kiosk/kiosk/procedure"
)

func init() {
	register("filing example", "print a complete, valid sample filing as JSON: kioskctl filing example [--procedure CODE]", runFilingExample)
	register("procedures", "list the procedures the kiosk offers: code, name, fee", runProcedures)
}

func runFilingExample(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("filing example", stderr)
	all := procedure.All()
	code := fs.String("procedure", all[0].Code, "procedure code (MaTTHC); see 'kioskctl procedures'")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	f, err := filing.Example(*code)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(f)
}

func runProcedures(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("procedures", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CODE\tNAME\tFEE (VND)")
	for _, p := range procedure.All() {
		fmt.Fprintf(w, "%s\t%s\t%d\n", p.Code, p.NameVI, p.Fee.AmountVND)
	}
	return w.Flush()
}
