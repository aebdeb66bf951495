package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/vnkiosk/kiosk/kiosk/backend/refbackend"
)

func init() {
	register("sim backend", "serve the reference kiosk gateway over mutual TLS, with its test CA in --tls-dir, until Ctrl+C", runSimBackend)
}

func runSimBackend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sim backend", stderr)
	listen := fs.String("listen", "127.0.0.1:8443", "address to listen on")
	tlsDir := fs.String("tls-dir", "", "directory of the test CA, server and kiosk certificates (created if missing)")
	db := fs.String("db", "", "JSON file the filings are kept in (default: memory only)")
	latency := fs.Duration("latency", 0, "delay added before every answer (at most 1m)")
	errorRate := fs.Float64("error-rate", 0, "probability of answering 500 (0..1)")
	dropRate := fs.Float64("drop-rate", 0, "probability of closing the connection without an answer (0..1)")
	seed := fs.Uint64("seed", 0, "seed of the fault generator (0: random)")
	autoPay := fs.Duration("auto-pay", 0, "mark payments paid this long after they are first asked about (demo)")
	requireSig := fs.Bool("require-signature", true, "refuse filings not signed with the kiosk's client-certificate key (Filing-Signature)")
	var estTokens repeatedFlag
	fs.Var(&estTokens, "est-token", "a one-time EST enrolment token for kioskctl provision (repeatable)")
	demoEnrolment := fs.Bool("demo-enrolment", false, "accept the EST token \"demo\" any number of times (for kioskd --demo --backend only: anyone can then get a client certificate)")
	insuranceData := fs.String("insurance-data", "", "JSON file the insurance gateway (/api/) answers from: maThe → answer object, and \"staff\" (default: the built-in demo records)")
	insuranceUser := fs.String("insurance-user", refbackend.DemoInsuranceUser, "login name of the insurance gateway")
	insurancePassword := fs.String("insurance-password", refbackend.DemoInsurancePassword, "password of the insurance gateway (a demo value)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *tlsDir == "" {
		return usageError{"--tls-dir is required"}
	}
	pki, err := refbackend.EnsurePKI(*tlsDir)
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	var insurance *refbackend.InsuranceData // nil: the demo records
	if *insuranceData != "" {
		if insurance, err = refbackend.LoadInsuranceData(*insuranceData); err != nil {
			return err
		}
	}
	srv, err := refbackend.New(refbackend.Options{
		DB: *db, Latency: *latency, ErrorRate: *errorRate, DropRate: *dropRate, Seed: *seed, AutoPay: *autoPay,
		InsuranceData: insurance, InsuranceUser: *insuranceUser, InsurancePassword: *insurancePassword,
		RequireSignature: *requireSig,
		ESTTokens:        estTokens,
		DemoEnrolment:    *demoEnrolment,
		Log:              slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return usageError{err.Error()}
	}
	url, err := srv.Start(*listen, pki)
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(stdout, "backend: %s\n", url)
	fmt.Fprintf(stdout, "ca: %s\n", pki.Path(refbackend.CAFile))
	fmt.Fprintf(stdout, "ca fingerprint: %s\n", caFingerprint(pki.Path(refbackend.CAFile)))
	if *demoEnrolment {
		fmt.Fprintln(stderr, "WARNING: --demo-enrolment: anyone who reaches this backend can get a kiosk certificate with the token \"demo\"")
	}
	fmt.Fprintf(stdout, "kiosk certificate: %s\n", pki.Path(refbackend.KioskCertFile))
	fmt.Fprintf(stdout, "kiosk key: %s\n", pki.Path(refbackend.KioskKeyFile))
	<-ctx.Done()
	return nil
}
