package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vnkiosk/kiosk/kiosk/vietqr"
)

func init() {
	register("payment vietqr", "print a VietQR bank-transfer code: kioskctl payment vietqr --bin BIN --account ACCT --amount N --purpose TEXT [--png FILE]", runPaymentVietQR)
}

// runPaymentVietQR prints the payload of a VietQR code, and with --png writes its
// image, so a technician can check a kiosk's fee account with a banking app before
// citizens use it.
func runPaymentVietQR(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("payment vietqr", stderr)
	bin := fs.String("bin", "", "6-digit NAPAS BIN of the beneficiary's bank (e.g. 970416 for ACB)")
	account := fs.String("account", "", "beneficiary account number (or card number with --service QRIBFTTC)")
	amount := fs.Int64("amount", 0, "amount in đồng; 0 makes a static code where the payer types the amount")
	purpose := fs.String("purpose", "", "transfer description, at most 25 characters; Vietnamese is written without diacritics")
	service := fs.String("service", vietqr.ServiceToAccount, "QRIBFTTA (to an account) or QRIBFTTC (to a card)")
	ref := fs.String("ref", "", "bill number (field 62.01) that matches the payment to the filing")
	pngFile := fs.String("png", "", "also write the QR code as a PNG image to this file")
	size := fs.Int("size", 512, "PNG width and height in pixels")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	// Checked by name, not by value: a zero default cannot tell "--amount 0" (a
	// static code) from a forgotten amount.
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var missing []string
	for _, n := range []string{"bin", "account", "amount", "purpose"} {
		if !given[n] {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return usageError{"missing " + strings.Join(missing, ", ")}
	}
	payload, err := vietqr.Encode(vietqr.Payment{
		BIN:        *bin,
		Account:    *account,
		Service:    *service,
		Amount:     *amount,
		Purpose:    vietqr.Transliterate(*purpose),
		BillNumber: *ref,
	})
	if err != nil {
		return err
	}
	if *pngFile != "" {
		img, err := vietqr.PNG(payload, *size)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*pngFile, img, 0o644); err != nil {
			return fmt.Errorf("writing the QR image: %w", err)
		}
	}
	_, err = fmt.Fprintln(stdout, payload)
	return err
}
