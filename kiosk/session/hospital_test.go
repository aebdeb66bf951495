package session

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/barcode"
	"github.com/vnkiosk/kiosk/devices/barcode/qrpayload"
	"github.com/vnkiosk/kiosk/devices/idcard/cardqr"
	"github.com/vnkiosk/kiosk/devices/idcard/pcsc"
	"github.com/vnkiosk/kiosk/devices/printer/layout"
	"github.com/vnkiosk/kiosk/kiosk/audit"
	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/kiosk/filing"
	"github.com/vnkiosk/kiosk/kiosk/insurance"
	"github.com/vnkiosk/kiosk/kiosk/queue"
	"github.com/vnkiosk/kiosk/kiosk/staff"
)

// fakeGateway stands for the insurance client (tested against the reference
// gateway in kiosk/insurance); gate, when set, holds answers back.
type fakeGateway struct {
	mu      sync.Mutex
	result  insurance.Result
	gate    chan struct{}
	queries []insurance.Query
}

func (g *fakeGateway) Check(ctx context.Context, q insurance.Query) (insurance.Result, error) {
	g.mu.Lock()
	g.queries = append(g.queries, q)
	r, gate := g.result, g.gate
	g.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return r, nil
}

var okResult = insurance.Result{Code: "000", Kind: insurance.KindOK, Message: insurance.Message{VI: "Thẻ còn giá trị sử dụng.", EN: "The card is valid."},
	CardNumber: "DN4010123456789", ValidFrom: "2026-01-01", ValidTo: "2026-12-31",
	RegisteredFacility: insurance.Facility{Code: "01001", Name: "Bệnh viện Bạch Mai"},
	Visits:             []insurance.Visit{{Date: "2026-10-02", FacilityCode: "01001", Diagnosis: "J06"}}}

const staffID, staffPIN = "001190012345", "1357"

type hospitalRig struct {
	*rig
	gateway *fakeGateway
	audit   *audit.Log
}

func newHospitalRig(t *testing.T) *hospitalRig {
	t.Helper()
	dir := t.TempDir()
	q, err := queue.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	al, err := audit.Open(dir, bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	hash, err := staff.HashPIN(staffPIN)
	if err != nil {
		t.Fatal(err)
	}
	dirStaff, err := staff.NewDirectory([]staff.Member{{IDNumber: staffID, Name: "Nguyễn Thị Hoa", PINHash: hash, Role: staff.Nurse}})
	if err != nil {
		t.Fatal(err)
	}
	g := &fakeGateway{result: okResult}
	r := newRig(t, func(o *Options) {
		o.Site = config.Site{Kind: config.SiteHospital, Code: "01001", Name: "Bệnh viện Thử"}
		o.Departments = []config.Department{{Code: "KKB", NameVI: "Khoa Khám bệnh", Prefix: "K"}, {Code: "NHI", NameVI: "Khoa Nhi", NameEN: "Paediatrics", Prefix: "N"}}
		o.Insurance, o.Queue, o.Audit, o.Staff = g, q, al, dirStaff
	})
	return &hospitalRig{rig: r, gateway: g, audit: al}
}

func (h *hospitalRig) auditCSV(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	if err := h.audit.Export(context.Background(), &b, time.Now().Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestHospitalPatientTicket(t *testing.T) {
	t.Parallel()
	h := newHospitalRig(t)
	gate := make(chan struct{})
	h.gateway.gate = gate
	h.toIdentity(t)
	h.do(t, IntentConfirmIdentity, nil)
	st := h.waitScreen(t, ScreenServices)
	if len(st.Departments) != 2 || st.Departments[0].Name.EN != "Khoa Khám bệnh" || len(st.Services) != 0 {
		t.Fatalf("hospital services: %s", h.m.State())
	}
	if st.Insurance == nil || st.Insurance.State != "checking" {
		t.Fatalf("insurance banner: %+v", st.Insurance)
	}
	if err := h.try(IntentChooseService, map[string]string{"code": "1.004873"}); intentCode(err) != "invalid" {
		t.Errorf("a ward procedure at a hospital: %v", err)
	}
	// Chosen while the check runs: the ticket waits for its result.
	h.do(t, IntentChooseDepartment, map[string]string{"code": "KKB"})
	if st := h.state(t); st.Screen != ScreenServices || !st.Busy {
		t.Fatalf("the ticket did not wait for the check: %s", st.Screen)
	}
	close(gate)
	st = h.waitScreen(t, ScreenTicket)
	if tk := st.Ticket; tk.Number != "K001" || tk.Insurance != "checked" || tk.Department.VI != "Khoa Khám bệnh" {
		t.Errorf("ticket: %+v", tk)
	}
	h.waitFor(t, "ticket printed", func(st State) bool { return st.Ticket != nil && st.Ticket.Print == "printed" })
	if q := h.gateway.queries[0]; q.CardNumber != sampleID || q.Name != sampleName || q.StaffID != "" {
		t.Errorf("self-service query %+v: the kiosk's configured staff identity is used", q)
	}
	h.do(t, IntentFinish, nil)
	h.waitScreen(t, ScreenGoodbye)
	h.assertNoPersonalData(t)
	csv := h.auditCSV(t)
	if !strings.Contains(csv, ",insurance_check,") || !strings.Contains(csv, h.audit.PatientHash(sampleID)) || strings.Contains(csv, sampleID) {
		t.Errorf("audit log: %s", csv)
	}
}

func TestHospitalOfflineTicketNotChecked(t *testing.T) {
	t.Parallel()
	h := newHospitalRig(t)
	h.gateway.result = insurance.Result{Kind: insurance.KindOffline, Message: insurance.Message{VI: "Không kết nối được cổng BHYT.", EN: "Offline."}}
	h.toIdentity(t)
	h.do(t, IntentConfirmIdentity, nil)
	h.waitFor(t, "offline result", func(st State) bool {
		return st.Insurance != nil && st.Insurance.State == "done" && st.Insurance.Retryable
	})
	h.do(t, IntentChooseDepartment, map[string]string{"code": "NHI"})
	st := h.waitScreen(t, ScreenTicket)
	if st.Ticket.Insurance != "not_checked" || st.Ticket.Number != "N001" || st.Ticket.Department.EN != "Paediatrics" {
		t.Errorf("offline ticket: %+v", st.Ticket)
	}
	h.print.mu.Lock()
	page := h.print.pages[0]
	h.print.mu.Unlock()
	if !strings.Contains(strings.ToUpper(pageText(page)), "CHƯA KIỂM TRA BHYT") {
		t.Errorf("the printed ticket must say the card was not checked: %q", pageText(page))
	}
}

func TestStaffMode(t *testing.T) {
	t.Parallel()
	h := newHospitalRig(t)
	staffDoc := filing.SampleDocument()
	id := staffID
	staffDoc.IDNumber = &id
	h.card.patient = staffDoc
	h.toIdentityScreen(t, ScreenStaffPIN)
	st := h.state(t)
	if st.PIN == nil || st.PIN.Name != "Nguyễn Thị Hoa" || strings.Contains(string(h.m.State()), sampleName) {
		t.Fatalf("PIN screen: %s", h.m.State())
	}
	h.do(t, IntentEnterPIN, map[string]string{"pin": "0000"})
	if st := h.state(t); st.PIN.Error == nil || st.Screen != ScreenStaffPIN {
		t.Fatalf("wrong PIN: %s", h.m.State())
	}
	h.do(t, IntentEnterPIN, map[string]string{"pin": staffPIN})
	st = h.waitScreen(t, ScreenStaffHome)
	if st.Staff == nil || st.Staff.Name != "Nguyễn Thị Hoa" || st.Session != "" {
		t.Fatalf("staff home: %s", h.m.State())
	}
	// The staff member takes their card away: staff mode stays.
	h.card.events <- pcsc.Event{Kind: pcsc.CardRemoved}
	time.Sleep(50 * time.Millisecond)
	if st := h.state(t); st.Screen != ScreenStaffHome {
		t.Fatalf("staff mode ended with the staff card: %s", st.Screen)
	}
	// A patient's card: straight to the full check, with the staff identity.
	h.card.events <- pcsc.Event{Kind: pcsc.CardInserted}
	h.waitScreen(t, ScreenCardKey)
	h.do(t, IntentEnterCAN, map[string]string{"can": "012345"})
	st = h.waitFor(t, "the check", func(st State) bool { return st.Insurance != nil && st.Insurance.State == "done" })
	if st.Screen != ScreenInsurance || st.Insurance.FullName != sampleName || st.Insurance.ValidTo != "31/12/2026" ||
		len(st.Insurance.Visits) != 1 || st.Insurance.RegisteredFacility != "01001 Bệnh viện Bạch Mai" {
		t.Errorf("staff insurance view: %+v", st.Insurance)
	}
	if q := h.gateway.queries[len(h.gateway.queries)-1]; q.StaffID != staffID || q.StaffName != "Nguyễn Thị Hoa" {
		t.Errorf("staff-mode query carries the staff identity: %+v", q)
	}
	// Pulling the patient's card ends the patient, not staff mode.
	h.card.events <- pcsc.Event{Kind: pcsc.CardRemoved}
	st = h.waitScreen(t, ScreenStaffHome)
	if strings.Contains(string(h.m.State()), sampleName) {
		t.Error("the patient's name outlived their card")
	}
	// The card's QR instead of the chip.
	qr := cardqr.Format(&cardqr.Card{IDNumber: "079203001234", FullName: "Lê Văn Thành", DateOfBirth: time.Date(1960, 2, 1, 0, 0, 0, 0, time.UTC), Sex: "Nam", Address: "Huế"})
	h.codes.ch <- barcode.Scan{Payload: qr, Kind: qrpayload.KindCard, Content: qrpayload.Parse(qr)}
	st = h.waitFor(t, "QR check", func(st State) bool { return st.Screen == ScreenInsurance && st.Insurance.State == "done" })
	if st.Insurance.FullName != "Lê Văn Thành" {
		t.Errorf("QR check: %+v", st.Insurance)
	}
	if q := h.gateway.queries[len(h.gateway.queries)-1]; q.CardNumber != "079203001234" || q.DOB != "01/02/1960" {
		t.Errorf("QR query: %+v", q)
	}
	h.do(t, IntentNextPatient, nil)
	h.waitScreen(t, ScreenStaffHome)
	h.do(t, IntentStaffLogout, nil)
	st = h.waitScreen(t, ScreenGoodbye)
	if st.Staff != nil {
		t.Error("staff shown after logout")
	}
	csv := h.auditCSV(t)
	for _, want := range []string{",login_failed,", ",login,", ",insurance_check,", ",logout,"} {
		if !strings.Contains(csv, want) {
			t.Errorf("audit lacks %s:\n%s", want, csv)
		}
	}
	for _, raw := range []string{staffID, sampleID, "079203001234"} {
		if strings.Contains(csv, raw) {
			t.Errorf("the audit log holds a raw ID number %s", raw)
		}
	}
}

// pageText is the text blocks of a printed page.
func pageText(p layout.Page) string {
	var b strings.Builder
	for _, bl := range p.Blocks {
		if t, ok := bl.(layout.Text); ok {
			b.WriteString(t.Text + "\n")
		}
	}
	return b.String()
}

// toIdentityScreen is toIdentity for a card that leads elsewhere.
func (r *rig) toIdentityScreen(t *testing.T, want Screen) {
	t.Helper()
	r.card.events <- pcsc.Event{Kind: pcsc.CardInserted}
	r.waitScreen(t, ScreenCardKey)
	r.do(t, IntentEnterCAN, map[string]string{"can": "012345"})
	r.waitScreen(t, want)
}
