package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/provisioning/identity"
	"github.com/vnkiosk/kiosk/provisioning/siteconfig"
)

func init() {
	register("site-config fetch", "download this site's signed configuration from the backend, verify it and apply it", runSiteConfigFetch)
	register("site-config show", "verify the applied site configuration again and summarise it", runSiteConfigShow)
}

func runSiteConfigFetch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("site-config fetch", stderr)
	stateDir := fs.String("state-dir", "/var/lib/kioskd", "kioskd's state directory, with the identity from kioskctl provision")
	server := fs.String("server", "", "the backend's base URL, https://HOST[:PORT] (default: backend.url, else backend.est_url, of --config)")
	cfgFile := fs.String("config", "/etc/kioskd/kioskd.yaml", "kioskd's configuration, for the backend URL and site code when not given otherwise")
	timeout := fs.Duration("timeout", time.Minute, "give up after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := identity.Load(*stateDir)
	if err != nil {
		return err
	}
	// The configuration file is read only for what the flags and the
	// identity do not say.
	base, site := *server, id.Site()
	if base == "" || site == "" {
		cfg, err := config.Load(*cfgFile)
		if err != nil {
			return usageError{fmt.Sprintf("give --server, or a valid --config with backend.url and site.code: %v", err)}
		}
		base, site = cmp.Or(base, cfg.Backend.URL, cfg.Backend.ESTURL), cmp.Or(site, cfg.Site.Code)
		if base == "" {
			return usageError{"give --server: " + *cfgFile + " has neither backend.url nor backend.est_url"}
		}
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		MinVersion: tls.VersionTLS12, RootCAs: id.CAPool(), Certificates: []tls.Certificate{id.TLSCertificate()}}}}
	defer client.CloseIdleConnections()
	raw, sig, err := siteconfig.Fetch(ctx, client, base, site)
	if err != nil {
		return err
	}
	doc, err := siteconfig.Verify(raw, sig, id.CAPool(), site, time.Now())
	if err != nil {
		return fmt.Errorf("refused, the applied configuration is kept: %w", err)
	}
	prev, err := siteconfig.Load(*stateDir)
	switch {
	case errors.Is(err, siteconfig.ErrNotApplied):
		prev = nil
	case err != nil:
		fmt.Fprintf(stderr, "warning: the applied site configuration does not verify and is replaced: %v\n", err)
		prev = nil
	case prev.Version == doc.Version:
		if applied, err := os.ReadFile(filepath.Join(siteconfig.Dir(*stateDir), siteconfig.DocName)); err == nil && bytes.Equal(applied, raw) {
			fmt.Fprintf(stdout, "site configuration version %d is already applied\n", doc.Version)
			return nil
		}
	}
	if err := siteconfig.Apply(*stateDir, doc, raw, sig); err != nil {
		return fmt.Errorf("refused, the applied configuration is kept: %w", err)
	}
	if prev != nil {
		fmt.Fprintf(stdout, "site configuration version %d applied (was %d)\n", doc.Version, prev.Version)
	} else {
		fmt.Fprintf(stdout, "site configuration version %d applied (none before)\n", doc.Version)
	}
	describe(stdout, *stateDir, doc, prev)
	fmt.Fprintln(stdout, "reload kioskd (systemctl reload kioskd) to use it")
	return nil
}

func runSiteConfigShow(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("site-config show", stderr)
	stateDir := fs.String("state-dir", "/var/lib/kioskd", "kioskd's state directory")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	doc, err := siteconfig.Load(*stateDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "site configuration version %d, issued %s, verified\n", doc.Version, doc.IssuedAt.UTC().Format(time.RFC3339))
	describe(stdout, *stateDir, doc, nil)
	return nil
}

// describe summarises doc, marking what changed since prev (nil: nothing to
// compare with). It prints no staff names or ID numbers, only how many.
func describe(w io.Writer, stateDir string, doc, prev *siteconfig.Document) {
	mark := func(changed bool) string {
		switch {
		case prev == nil:
			return ""
		case changed:
			return " (changed)"
		}
		return " (unchanged)"
	}
	var was siteconfig.Document
	if prev != nil {
		was = *prev
	}
	fmt.Fprintf(w, "site: %s\n", doc.Site)
	switch {
	case len(doc.Procedures) == 0:
		fmt.Fprintln(w, "procedures: as in the configuration file")
	default:
		fmt.Fprintf(w, "procedures: %s%s\n", strings.Join(doc.Procedures, ", "), procedureDiff(was.Procedures, doc.Procedures, prev != nil))
	}
	codes := make([]string, len(doc.Departments))
	for i, d := range doc.Departments {
		codes[i] = d.Code
	}
	if len(codes) == 0 {
		fmt.Fprintf(w, "departments: as in the configuration file%s\n", mark(len(was.Departments) > 0))
	} else {
		fmt.Fprintf(w, "departments: %s%s\n", strings.Join(codes, ", "), mark(!slices.Equal(doc.Departments, was.Departments)))
	}
	fmt.Fprintf(w, "staff: %d%s\n", len(doc.Staff), mark(!slices.Equal(doc.Staff, was.Staff)))
	switch {
	case doc.Payment == nil:
		fmt.Fprintf(w, "payment account: as in the configuration file%s\n", mark(was.Payment != nil))
	default:
		fmt.Fprintf(w, "payment account: bank BIN %s%s\n", doc.Payment.BIN, mark(was.Payment == nil || *was.Payment != *doc.Payment))
	}
	fmt.Fprintf(w, "printer template: %s%s\n", doc.Printer.Template, mark(doc.Printer != was.Printer))
	if len(doc.CSCA) == 0 {
		fmt.Fprintf(w, "CSCA trust store: as in the configuration file%s\n", mark(len(was.CSCA) > 0))
	} else {
		fmt.Fprintf(w, "CSCA trust store: %d certificates in %s%s\n", len(doc.CSCA), siteconfig.CSCADir(stateDir), mark(!slices.Equal(doc.CSCA, was.CSCA)))
	}
}

// procedureDiff says which codes were enabled (+) and disabled (-).
func procedureDiff(before, after []string, compare bool) string {
	if !compare {
		return ""
	}
	var d []string
	for _, c := range after {
		if !slices.Contains(before, c) {
			d = append(d, "+"+c)
		}
	}
	for _, c := range before {
		if !slices.Contains(after, c) {
			d = append(d, "-"+c)
		}
	}
	if len(d) == 0 {
		return " (unchanged)"
	}
	return " (" + strings.Join(d, " ") + ")"
}
