package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/control"
	"github.com/vnkiosk/kiosk/kiosk/insurance"
)

func init() {
	register("insurance check", "check a health insurance (BHYT) card through the running kioskd: kioskctl insurance check --id ID --name NAME --dob DD/MM/YYYY", runInsuranceCheck)
}

// insuranceAskTimeout covers the daemon's own bound on a check (a login, a
// lookup and one re-login).
const insuranceAskTimeout = time.Minute

// runInsuranceCheck asks the daemon, which holds the gateway account and the
// staff identity, to check one card, so a technician can test the insurance
// set-up from the kiosk's shell with the same path the screen uses.
func runInsuranceCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("insurance check", stderr)
	id := fs.String("id", "", "the citizen's 12-digit ID number or 15-character BHYT card code (maThe)")
	name := fs.String("name", "", "full name as on the card (hoTen)")
	dob := fs.String("dob", "", "date of birth, DD/MM/YYYY (or YYYY when only the year is known)")
	staffName := fs.String("staff-name", "", "name of the registered staff member doing the lookup (default: the kiosk's configured one)")
	staffID := fs.String("staff-id", "", "12-digit ID number of that staff member (with --staff-name)")
	socket := fs.String("socket", "", "control socket of the daemon (default: found automatically)")
	asJSON := fs.Bool("json", false, "print JSON: result_code, message, card_number, valid_from, valid_to, registered_facility, five_year_date, new_card_number, kind, message_en, retryable")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"--id", *id}, {"--name", *name}, {"--dob", *dob}} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return usageError{"missing " + strings.Join(missing, ", ")}
	}
	if (*staffName == "") != (*staffID == "") {
		return usageError{"--staff-name and --staff-id go together"}
	}
	// Checked here too, so a typing mistake is a usage error before any
	// daemon is looked for.
	q := insurance.Query{CardNumber: *id, Name: *name, DOB: *dob, StaffName: *staffName, StaffID: *staffID}
	if _, err := q.Normalize(); err != nil {
		return usageError{strings.TrimPrefix(err.Error(), insurance.ErrInvalidQuery.Error()+": ")}
	}
	p, err := control.FindSocket(*socket)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, insuranceAskTimeout)
	defer cancel()
	a, err := insurance.CheckVia(ctx, control.NewClient(p), insurance.CheckRequest{
		CardNumber: *id, Name: *name, DOB: *dob, StaffName: *staffName, StaffID: *staffID,
	})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(a)
	}
	return printInsuranceAnswer(stdout, a)
}

// printInsuranceAnswer writes the answer in Vietnamese, dates as the counter
// writes them (DD/MM/YYYY), leaving out what the gateway did not say.
func printInsuranceAnswer(w io.Writer, a insurance.CheckAnswer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	code := a.ResultCode
	if code == "" {
		code = "—"
	}
	fmt.Fprintf(tw, "Kết quả:\t%s (%s)\n", code, a.Kind)
	fmt.Fprintf(tw, "Thông báo:\t%s\n", a.Message)
	row := func(label, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", label, v)
		}
	}
	row("Mã thẻ", a.CardNumber)
	if a.ValidFrom != "" || a.ValidTo != "" {
		row("Giá trị sử dụng", strings.TrimSpace(viDate(a.ValidFrom)+" – "+viDate(a.ValidTo)))
	}
	row("Nơi ĐKKCB ban đầu", a.RegisteredFacility)
	row("Đủ 5 năm liên tục từ", viDate(a.FiveYearDate))
	row("Mã thẻ mới", a.NewCardNumber)
	if a.Retryable {
		fmt.Fprintf(tw, "Chưa kiểm tra được:\tin phiếu ghi %q; kiểm tra lại sau\n", insurance.TicketMarkUnchecked)
	}
	return tw.Flush()
}

// viDate turns YYYY-MM-DD into DD/MM/YYYY, and leaves anything else alone.
func viDate(s string) string {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return s
	}
	return t.Format("02/01/2006")
}
