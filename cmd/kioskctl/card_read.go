package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/devices/idcard/passiveauth"
)

func init() {
	register("card read", "read a chip ID card: kioskctl card read (--can N | --mrz TEXT | --doc D --dob YYMMDD --exp YYMMDD | --qr TEXT)", runCardRead)
}

func runCardRead(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("card read", stderr)
	reader := fs.String("reader", "", "PC/SC reader name pattern (* and ?); default: any reader")
	can := fs.String("can", "", "card access number: the 6 digits printed on the card")
	mrzText := fs.String("mrz", "", "the MRZ as printed (TD1 three lines or TD3 two lines; newlines or spaces between lines)")
	doc := fs.String("doc", "", "document number (with --dob and --exp)")
	dob := fs.String("dob", "", "date of birth YYMMDD (with --doc)")
	exp := fs.String("exp", "", "date of expiry YYMMDD (with --doc)")
	qr := fs.String("qr", "", "the text of the QR code printed on the card")
	csca := fs.String("csca", "", "directory of CSCA certificates (and CRLs) for passive authentication")
	noPhoto := fs.Bool("no-photo", false, "do not read the face image (DG2)")
	asJSON := fs.Bool("json", false, "print the document as JSON")
	extended := fs.String("extended", "auto", "extended-length APDUs: auto (from the ATR), on or off")
	wait := fs.Duration("wait", 0, "wait this long for a card to be placed")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	key, err := accessKey(*can, *mrzText, *doc, *dob, *exp, *qr)
	if err != nil {
		return err
	}
	opt := idcard.Options{NoPhoto: *noPhoto}
	switch *extended {
	case "auto":
	case "on":
		opt.Extended = idcard.ExtendedOn
	case "off":
		opt.Extended = idcard.ExtendedOff
	default:
		return usageError{"--extended is auto, on or off"}
	}
	if *csca != "" {
		ts, err := passiveauth.LoadTrustStore(*csca)
		if err != nil {
			return fmt.Errorf("CSCA trust store: %w", err)
		}
		opt.Trust = ts
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout+*wait)
	defer cancel()
	d, _, err := idcard.ReadFromReader(ctx, *reader, key, opt, *wait)
	if err != nil {
		return errors.New(idcard.Explain(err).EN + " (" + err.Error() + ")")
	}
	defer d.Wipe()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(d)
	}
	printDocument(stdout, d)
	return nil
}

func accessKey(can, mrzText, doc, dob, exp, qr string) (idcard.AccessKey, error) {
	n := 0
	for _, s := range []string{can, mrzText, doc + dob + exp, qr} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return idcard.AccessKey{}, usageError{"give exactly one access key: --can, --mrz, --doc/--dob/--exp or --qr"}
	}
	switch {
	case can != "":
		return idcard.KeyFromCAN(can)
	case mrzText != "":
		return idcard.KeyFromMRZ(mrzText)
	case qr != "":
		return idcard.KeyFromCardQR(qr)
	}
	if doc == "" || dob == "" || exp == "" {
		return idcard.AccessKey{}, usageError{"--doc, --dob and --exp go together"}
	}
	return idcard.KeyFromDocument(doc, dob, exp)
}

func printDocument(w io.Writer, d *idcard.Document) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(label string, v *string) {
		s := "—"
		if v != nil {
			s = *v
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, s)
	}
	row("Số định danh (ID number)", d.IDNumber)
	row("Họ và tên (full name)", d.FullName)
	row("Ngày sinh (date of birth)", d.DateOfBirth)
	row("Giới tính (sex)", d.Sex)
	row("Quốc tịch (nationality)", d.Nationality)
	row("Dân tộc (ethnicity)", d.Ethnicity)
	row("Tôn giáo (religion)", d.Religion)
	row("Quê quán (place of origin)", d.PlaceOfOrigin)
	row("Nơi thường trú (residence)", d.PlaceOfResidence)
	row("Đặc điểm nhận dạng", d.IdentifyingFeatures)
	row("Ngày cấp (date of issue)", d.DateOfIssue)
	row("Có giá trị đến (expiry)", d.DateOfExpiry)
	row("Họ tên cha (father)", d.FatherName)
	row("Họ tên mẹ (mother)", d.MotherName)
	row("Vợ/chồng (spouse)", d.SpouseName)
	row("Số CMND cũ (old ID)", d.OldIDNumber)
	row("Số giấy tờ (document no.)", d.DocumentNumber)
	tw.Flush()
	if len(d.MRZ) > 0 {
		fmt.Fprintf(w, "MRZ:\n  %s\n", strings.Join(d.MRZ, "\n  "))
	}
	if d.Photo != nil {
		fmt.Fprintf(w, "Photo: %s, %d bytes\n", d.Photo.MIME, len(d.Photo.Data))
	}
	if v := d.Verification; v != nil {
		fmt.Fprintf(w, "Verification:\n  access       %s\n  passive      %s", v.Access, v.Passive.State)
		if v.Passive.SignatureAlgorithm != "" {
			fmt.Fprintf(w, " (%s)", v.Passive.SignatureAlgorithm)
		}
		if v.Passive.Reason != "" {
			fmt.Fprintf(w, " — %s", v.Passive.Reason)
		}
		fmt.Fprintf(w, "\n  chip auth    %s %s\n  active auth  %s %s\n", v.ChipAuth.State, v.ChipAuth.Algorithm, v.ActiveAuth.State, v.ActiveAuth.Algorithm)
	}
	if s := d.Stats; s != nil {
		fmt.Fprintf(w, "Read: %d APDUs, %d bytes in, %d bytes out, %d ms\n", s.APDUs, s.BytesIn, s.BytesOut, s.DurationMS)
	}
}
