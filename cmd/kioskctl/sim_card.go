package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/devices/idcard/testpki"
	"github.com/vnkiosk/kiosk/devices/idcard/virtualcard"
)

func init() {
	register("sim card", "insert a virtual chip ID card into pcscd's virtual reader until Ctrl+C", runSimCard)
}

// defaultVPCD is the card side of pcscd's first virtual reader, "Virtual PCD 00 00".
const defaultVPCD = "127.0.0.1:35963"

func runSimCard(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sim card", stderr)
	profile := fs.String("profile", "", "citizen profile: a Document JSON file, as 'kioskctl card read --json' prints (default: a built-in sample)")
	sample := fs.String("sample", "", "built-in sample citizen: "+strings.Join(virtualcard.SampleNames(), ", ")+" (default "+virtualcard.DefaultSample+")")
	addr := fs.String("vpcd", defaultVPCD, "vpcd address of the reader slot (35963: Virtual PCD 00 00, 35964: Virtual PCD 00 01)")
	pkiDir := fs.String("pki", "", "test PKI directory, created if missing (default: kiosk/testpki-FLAVOUR in the user cache directory)")
	flavour := fs.String("pki-flavour", string(testpki.RSA), "flavour of a new test PKI: rsa, rsa-pss or ecdsa-brainpool")
	aa := fs.String("aa", string(virtualcard.AARSA), "active authentication key in DG15: rsa or ecdsa")
	extended := fs.Bool("extended", false, "accept extended-length APDUs and announce them in the ATR")
	maxLe := fs.Int("max-le", 0, fmt.Sprintf("largest plaintext per READ BINARY (default %d, or %d with --extended)", virtualcard.DefaultMaxLe, virtualcard.MaxExtendedLe))
	faultName := fs.String("fault", "", "misbehave: "+faultNames()+" (slow: every answer; the others: the READ BINARY in the middle of DG2)")
	slow := fs.Duration("slow", 0, "delay every answer by this much (--fault slow without it: 200ms)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}

	if *profile != "" && *sample != "" {
		return usageError{"give --profile or --sample, not both"}
	}
	fl := testpki.Flavour(*flavour)
	if fl != testpki.RSA && fl != testpki.RSAPSS && fl != testpki.ECDSABrainpool {
		return usageError{"--pki-flavour is rsa, rsa-pss or ecdsa-brainpool"}
	}
	aaKey := virtualcard.AAKey(*aa)
	if aaKey != virtualcard.AARSA && aaKey != virtualcard.AAECDSA {
		return usageError{"--aa is rsa or ecdsa"}
	}
	fault, err := virtualcard.ParseFault(*faultName)
	if err != nil {
		return usageError{"--fault is one of " + faultNames()}
	}
	if *maxLe < 0 || *maxLe > virtualcard.MaxExtendedLe {
		return usageError{fmt.Sprintf("--max-le is between 1 and %d", virtualcard.MaxExtendedLe)}
	}
	if *slow < 0 {
		return usageError{"--slow must not be negative"}
	}

	var doc *idcard.Document
	what := *profile
	switch {
	case *profile != "":
		doc, err = idcard.LoadProfile(*profile)
	default:
		name := *sample
		if name == "" {
			name = virtualcard.DefaultSample
		}
		what = "sample " + name
		doc, err = virtualcard.Sample(name)
	}
	if err != nil {
		return err
	}

	dir := *pkiDir
	if dir == "" {
		if dir, err = virtualcard.DefaultPKIDir(fl); err != nil {
			return fmt.Errorf("%w; give --pki", err)
		}
	}
	pki, err := virtualcard.EnsurePKI(dir, fl)
	if err != nil {
		return err
	}
	card, err := virtualcard.New(virtualcard.Options{
		Profile: doc, PKI: pki, AAKey: aaKey, Extended: *extended, MaxLe: *maxLe,
		Fault: fault, SlowDelay: *slow,
	})
	if err != nil {
		return err
	}

	slot, err := virtualcard.Serve(ctx, *addr, card)
	if err != nil {
		return fmt.Errorf("insert the card (is pcscd running with vpcd?): %w", err)
	}
	fmt.Fprintf(stdout, "virtual card (%s) inserted at %s: CAN %s; give the reader the CSCA trust dir %s; Ctrl+C removes it\n",
		what, *addr, card.CAN(), virtualcard.TrustDir(dir))

	select {
	case <-ctx.Done():
	case <-slot.Done():
	}
	slot.Remove()
	if err := slot.Wait(); err != nil {
		return fmt.Errorf("the reader side went away: %w", err)
	}
	if card.FaultsFired() > 0 && fault == virtualcard.FaultRemoval {
		fmt.Fprintln(stdout, "the card pulled itself out in the middle of DG2 (fault removal)")
		return nil
	}
	if ctx.Err() == nil {
		return errors.New("the card stopped unexpectedly")
	}
	fmt.Fprintln(stdout, "card removed")
	return nil
}

func faultNames() string {
	var names []string
	for _, f := range virtualcard.Faults() {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}
