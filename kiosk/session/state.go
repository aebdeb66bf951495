package session

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Screen names what the touchscreen shows; the browser picks its template by it.
type Screen string

// Screens, in the order a ward filing meets them.
const (
	ScreenIdle          Screen = "idle"           // attract: place your card; language, help, dossier lookup
	ScreenCardKey       Screen = "card_key"       // the card is on the reader; type the last 6 digits or scan its QR
	ScreenReading       Screen = "reading"        // reading the chip, with progress
	ScreenIdentity      Screen = "identity"       // photo, name, partly masked ID: "is this you?"
	ScreenServices      Screen = "services"       // choose a procedure (ward) or a service (hospital)
	ScreenForm          Screen = "form"           // the procedure's fields, chip fields locked
	ScreenAttachments   Screen = "attachments"    // scan the required documents, with previews
	ScreenConsent       Screen = "consent"        // explicit consent to process personal data
	ScreenPayment       Screen = "payment"        // VietQR with countdown
	ScreenSubmitting    Screen = "submitting"     // writing the filing to the outbox
	ScreenDone          Screen = "done"           // dossier code, receipt printing result
	ScreenDossierLookup Screen = "dossier_lookup" // scan the receipt QR to see a dossier's status
	ScreenDossierStatus Screen = "dossier_status" // a dossier's status from the backend
	ScreenError         Screen = "error"          // what happened and what to do next
	ScreenGoodbye       Screen = "goodbye"        // take your card; the session has ended

	// Hospital kiosks. A patient: card → CAN → reading → identity → services
	// (departments, with the insurance check running) → ticket. A staff
	// member: own card → staff_pin → staff_home → the patient's card or its
	// QR → insurance (the full check) → staff_home.
	ScreenTicket    Screen = "ticket"     // the queue ticket: number, department, insurance state
	ScreenStaffPIN  Screen = "staff_pin"  // a staff member's card was read: type the PIN
	ScreenStaffHome Screen = "staff_home" // staff mode: place the patient's card or scan its QR
	ScreenInsurance Screen = "insurance"  // staff mode: a patient's insurance check in full

	// Technician mode, behind the technician PIN (from idle) or a staff card
	// with the technician role.
	ScreenTechnician Screen = "technician" // self-test, devices, logs, test print, re-provision
)

// Text is a user-facing sentence in Vietnamese and English.
type Text struct {
	VI string `json:"vi"`
	EN string `json:"en"`
}

// State is everything the screen shows, as JSON to the browser. Exactly the
// part named by Screen is set; the rest is omitted. It carries personal data
// only while a session holds it, and never after the session ends.
type State struct {
	Seq     uint64   `json:"seq"`     // increases with every change, across sessions
	Screen  Screen   `json:"screen"`  // which screen to draw
	Lang    string   `json:"lang"`    // "vi" or "en"
	Mode    string   `json:"mode"`    // "ward" or "hospital"
	Say     string   `json:"say"`     // i18n key of the screen's spoken instruction (say.*)
	Session string   `json:"session"` // random id of the current session, "" when idle
	Help    bool     `json:"help"`    // staff have been called
	Timeout *Timeout `json:"timeout,omitempty"`
	Cue     *Cue     `json:"cue,omitempty"`
	Busy    bool     `json:"busy"` // an action is running; buttons other than cancel are disabled

	CardKey     *CardKeyView     `json:"card_key,omitempty"`
	Reading     *ReadingView     `json:"reading,omitempty"`
	Identity    *IdentityView    `json:"identity,omitempty"`
	Services    []ServiceView    `json:"services,omitempty"`
	Form        *FormView        `json:"form,omitempty"`
	Attachments *AttachmentsView `json:"attachments,omitempty"`
	Consent     *ConsentView     `json:"consent,omitempty"`
	Payment     *PaymentView     `json:"payment,omitempty"`
	Done        *DoneView        `json:"done,omitempty"`
	Dossier     *DossierView     `json:"dossier,omitempty"`
	Error       *ErrorView       `json:"error,omitempty"`

	Departments []DepartmentView `json:"departments,omitempty"` // services, hospital mode
	Insurance   *InsuranceView   `json:"insurance,omitempty"`   // services (hospital) and insurance
	Ticket      *TicketView      `json:"ticket,omitempty"`
	PIN         *PINView         `json:"pin,omitempty"`
	Staff       *StaffView       `json:"staff,omitempty"` // set on every screen while staff are logged in
	Tech        *TechView        `json:"tech,omitempty"`
}

// TechView is technician mode: one panel at a time.
type TechView struct {
	Panel   string       `json:"panel"`   // selftest, devices, logs, provision
	Running bool         `json:"running"` // a self-test, test print or enrolment is running
	Checks  []TechCheck  `json:"checks,omitempty"`
	Devices []TechDevice `json:"devices,omitempty"`
	Logs    []string     `json:"logs,omitempty"` // the daemon's latest log lines, already redacted
	Message *Text        `json:"message,omitempty"`
	OK      bool         `json:"ok"` // Message reports success
}

// TechCheck is one self-test result.
type TechCheck struct {
	Name   string `json:"name"`
	Status string `json:"status"` // ok, warn, fail
	Reason string `json:"reason"`
	Hint   string `json:"hint,omitempty"`
}

// TechDevice is one subsystem's health.
type TechDevice struct {
	Name     string `json:"name"`
	State    string `json:"state"` // ok, degraded, absent, failed, starting
	Reason   string `json:"reason,omitempty"`
	Attached string `json:"attached,omitempty"`
}

// DepartmentView is one department or clinic a patient can queue for.
type DepartmentView struct {
	Code string `json:"code"`
	Name Text   `json:"name"`
}

// InsuranceView is a health insurance (BHYT) check: its progress, then its
// result. Dates are dd/MM/yyyy for the screen.
type InsuranceView struct {
	State              string      `json:"state"` // checking, done, not_configured
	Kind               string      `json:"kind,omitempty"`
	Code               string      `json:"code,omitempty"` // maKetQua
	OK                 bool        `json:"ok"`             // the card is valid for treatment today
	Retryable          bool        `json:"retryable"`      // not checked through no fault of the card: staff retry later
	Message            Text        `json:"message"`
	FullName           string      `json:"full_name,omitempty"` // staff screen only
	CardNumber         string      `json:"card_number,omitempty"`
	ValidFrom          string      `json:"valid_from,omitempty"`
	ValidTo            string      `json:"valid_to,omitempty"`
	RegisteredFacility string      `json:"registered_facility,omitempty"`
	FiveYearDate       string      `json:"five_year_date,omitempty"`
	BenefitLevel       *Text       `json:"benefit_level,omitempty"`
	NewCardNumber      string      `json:"new_card_number,omitempty"`
	Visits             []VisitView `json:"visits,omitempty"`
}

// VisitView is one recent visit on an insurance card.
type VisitView struct {
	Date      string `json:"date"`
	Facility  string `json:"facility"`
	Diagnosis string `json:"diagnosis,omitempty"`
}

// TicketView is the printed queue ticket. It holds no personal data.
type TicketView struct {
	Number     string `json:"number"` // "K012"
	Department Text   `json:"department"`
	IssuedAt   string `json:"issued_at"` // 15:04
	Insurance  string `json:"insurance"` // checked, not_checked, problem
	Note       *Text  `json:"note,omitempty"`
	Print      string `json:"print"` // printing, printed, failed, none
	PrintError *Text  `json:"print_error,omitempty"`
}

// PINView asks a staff member for their PIN.
type PINView struct {
	Name      string `json:"name"` // the staff member the card belongs to
	MinDigits int    `json:"min_digits"`
	MaxDigits int    `json:"max_digits"`
	Error     *Text  `json:"error,omitempty"`
}

// StaffView is the logged-in staff member.
type StaffView struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// Timeout is the inactivity deadline of the current screen, in Unix milliseconds:
// from WarnAt the screen shows a countdown and asks "are you still there?".
type Timeout struct {
	WarnAt int64 `json:"warn_at"`
	EndsAt int64 `json:"ends_at"`
}

// Cue is a short sound to play; N increases with each cue so a re-sent state
// does not replay it.
type Cue struct {
	Sound string `json:"sound"` // card, printed, error, tap
	N     uint64 `json:"n"`
}

// CardKeyView asks for the card access number.
type CardKeyView struct {
	Digits int   `json:"digits"` // how many the CAN has (6)
	Error  *Text `json:"error,omitempty"`
}

// ReadingView is the chip read's progress.
type ReadingView struct {
	Step    string `json:"step"`    // access, chip_auth, read, active_auth, passive_auth, done
	Percent int    `json:"percent"` // 0..100
}

// IdentityView is what the citizen confirms: never the full ID number.
type IdentityView struct {
	FullName    string      `json:"full_name"`
	IDMasked    string      `json:"id_masked"` // "0012****3456"
	DateOfBirth string      `json:"date_of_birth"`
	Sex         string      `json:"sex"`
	Photo       string      `json:"photo,omitempty"` // data: URL
	Checks      []CheckView `json:"checks"`
	Trusted     bool        `json:"trusted"` // every check the kiosk relies on passed
}

// CheckView is one chip verification result, as the citizen sees it.
type CheckView struct {
	Name  string `json:"name"` // access, passive, chip_auth, active_auth
	State string `json:"state"`
	OK    bool   `json:"ok"`
	Label Text   `json:"label"`
}

// ServiceView is one entry of the service choice.
type ServiceView struct {
	Code   string `json:"code"`
	Name   Text   `json:"name"`
	FeeVND int64  `json:"fee_vnd"`
	Fee    string `json:"fee"` // "10.000 ₫", "" when free
	Days   int    `json:"days"`
}

// FormView is the procedure's form.
type FormView struct {
	Code      string      `json:"code"`
	Procedure Text        `json:"procedure"`
	Fields    []FieldView `json:"fields"`
	Step      int         `json:"step"`  // 1-based step of the flow
	Steps     int         `json:"steps"` // how many steps the flow has
}

// FieldView is one form field.
type FieldView struct {
	Key       string   `json:"key"`
	Label     Text     `json:"label"`
	Type      string   `json:"type"` // text, date, select, phone, number
	Value     string   `json:"value"`
	Locked    bool     `json:"locked"` // filled from the chip
	Required  bool     `json:"required"`
	MaxLength int      `json:"max_length,omitempty"`
	Options   []string `json:"options,omitempty"`
	Error     *Text    `json:"error,omitempty"`
}

// AttachmentsView lists the documents to scan.
type AttachmentsView struct {
	Items    []AttachmentView `json:"items"`
	Scanning int              `json:"scanning"` // index being scanned, -1 when idle
	Progress int              `json:"progress"` // 0..100 of the page being scanned
	Step     int              `json:"step"`
	Steps    int              `json:"steps"`
	Error    *Text            `json:"error,omitempty"`
}

// AttachmentView is one required document and its scanned pages.
type AttachmentView struct {
	Name     string   `json:"name"`
	MinPages int      `json:"min_pages"`
	Pages    []string `json:"pages"` // data: URL previews
}

// ConsentView is the consent text the citizen accepts; its version is recorded
// with the filing.
type ConsentView struct {
	Version string `json:"version"`
	Text    Text   `json:"text"`
	Step    int    `json:"step"`
	Steps   int    `json:"steps"`
}

// PaymentView is the VietQR fee payment.
type PaymentView struct {
	AmountVND int64  `json:"amount_vnd"`
	Amount    string `json:"amount"` // "10.000 ₫"
	Purpose   string `json:"purpose"`
	Reference string `json:"reference"`
	Payee     string `json:"payee"`
	QR        string `json:"qr"`         // data: URL of the QR image
	ExpiresAt int64  `json:"expires_at"` // Unix ms
	State     string `json:"state"`      // waiting, paid, expired, unavailable
	Step      int    `json:"step"`
	Steps     int    `json:"steps"`
}

// DoneView ends a filing.
type DoneView struct {
	MaHoSo     string `json:"ma_ho_so"`
	Procedure  Text   `json:"procedure"`
	Days       int    `json:"days"`
	Print      string `json:"print"` // printing, printed, failed, none
	PrintError *Text  `json:"print_error,omitempty"`
}

// DossierView is a dossier's status, looked up by its code.
type DossierView struct {
	MaHoSo     string `json:"ma_ho_so"`
	StatusCode int    `json:"status_code"`
	Status     Text   `json:"status"`
	UpdatedAt  string `json:"updated_at,omitempty"`
	Found      bool   `json:"found"`
}

// ErrorView says what happened and what to do next.
type ErrorView struct {
	Code    string `json:"code"`
	Title   Text   `json:"title"`
	Message Text   `json:"message"`
	// Actions are the buttons the error screen offers: retry, restart, help,
	// remove_card (a hint, no button).
	Actions []string `json:"actions"`
}

// Intent is what the browser asks for. Data is the intent's arguments, decoded
// strictly by the session.
type Intent struct {
	Name string          `json:"name"`
	Data json.RawMessage `json:"data,omitempty"`
}

// Intent names.
const (
	IntentSetLanguage     = "set_language"     // {"lang": "vi"|"en"}
	IntentHelp            = "help"             // call staff
	IntentHelpCancel      = "help_cancel"      // staff came / pressed by mistake
	IntentStillHere       = "still_here"       // dismiss the inactivity warning
	IntentCancel          = "cancel"           // end the session from any screen
	IntentBack            = "back"             // previous step of the flow
	IntentEnterCAN        = "enter_can"        // {"can": "123456"}
	IntentConfirmIdentity = "confirm_identity" // the citizen confirms it is them
	IntentChooseService   = "choose_service"   // {"code": "1.001193"}
	IntentSetField        = "set_field"        // {"key": "phone", "value": "0912345678"}
	IntentSubmitForm      = "submit_form"      // validate the form and go on
	IntentScanPage        = "scan_page"        // {"attachment": 0}
	IntentRemovePage      = "remove_page"      // {"attachment": 0, "page": 1}
	IntentAttachmentsDone = "attachments_done" // go on to consent
	IntentAcceptConsent   = "accept_consent"   // {"version": "2026-01"}
	IntentDeclineConsent  = "decline_consent"  // ends the session
	IntentRetry           = "retry"            // retry what failed (error, payment expired)
	IntentFinish          = "finish"           // leave the done / status screen
	IntentLookupDossier   = "lookup_dossier"   // from idle: show the lookup screen; {"ma_ho_so": "..."} looks one up

	IntentChooseDepartment = "choose_department" // hospital: {"code": "K01"}; prints the ticket
	IntentEnterPIN         = "enter_pin"         // staff: {"pin": "1357"}
	IntentNextPatient      = "next_patient"      // staff: done with this patient, wipe and wait for the next
	IntentRetryInsurance   = "retry_insurance"   // hospital: check the card again (after an offline result)
	IntentStaffLogout      = "staff_logout"      // staff: end staff mode

	IntentTechnicianLogin = "technician_login" // idle: ask for the technician PIN
	IntentTechPanel       = "tech_panel"       // {"panel": "selftest"|"devices"|"logs"|"provision"}
	IntentRunSelftest     = "run_selftest"     // run every self-test check
	IntentPrintTest       = "print_test"       // print a test ticket
)

// IntentError is an intent the session refuses: unknown, malformed, or not
// possible on the current screen. The connection lives on.
type IntentError struct {
	Code    string // unknown_intent, bad_data, wrong_screen, invalid
	Message string // English, for the developer console
}

func (e *IntentError) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// ErrClosed is returned by Do after the machine has stopped.
var ErrClosed = errors.New("session machine stopped")
