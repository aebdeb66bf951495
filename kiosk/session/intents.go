package session

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// handler runs one intent on the loop goroutine.
type handler struct {
	// screens the intent is valid on; nil means any.
	screens []Screen
	// whileBusy: the intent is accepted while background work runs.
	whileBusy bool
	do        func(m *Machine, data json.RawMessage) error
}

var handlers map[string]handler

func init() {
	session := []Screen{ScreenCardKey, ScreenReading, ScreenIdentity, ScreenServices, ScreenForm, ScreenAttachments,
		ScreenConsent, ScreenPayment, ScreenSubmitting, ScreenDone, ScreenDossierLookup, ScreenDossierStatus, ScreenError,
		ScreenTicket, ScreenStaffPIN, ScreenInsurance}
	handlers = map[string]handler{
		IntentSetLanguage:     {whileBusy: true, do: (*Machine).setLanguage},
		IntentHelp:            {whileBusy: true, do: func(m *Machine, d json.RawMessage) error { return m.setHelp(d, true) }},
		IntentHelpCancel:      {whileBusy: true, do: func(m *Machine, d json.RawMessage) error { return m.setHelp(d, false) }},
		IntentStillHere:       {whileBusy: true, do: noData(func(m *Machine) error { return nil })},
		IntentCancel:          {screens: session, whileBusy: true, do: noData(func(m *Machine) error { m.endSession("cancelled"); return nil })},
		IntentBack:            {screens: []Screen{ScreenForm, ScreenAttachments, ScreenConsent, ScreenServices, ScreenPayment}, do: noData((*Machine).back)},
		IntentEnterCAN:        {screens: []Screen{ScreenCardKey}, do: (*Machine).enterCAN},
		IntentConfirmIdentity: {screens: []Screen{ScreenIdentity}, do: noData((*Machine).confirmIdentity)},
		IntentChooseService:   {screens: []Screen{ScreenServices}, do: (*Machine).chooseService},
		IntentSetField:        {screens: []Screen{ScreenForm}, do: (*Machine).setField},
		IntentSubmitForm:      {screens: []Screen{ScreenForm}, do: noData((*Machine).submitForm)},
		IntentScanPage:        {screens: []Screen{ScreenAttachments}, do: (*Machine).scanPage},
		IntentRemovePage:      {screens: []Screen{ScreenAttachments}, do: (*Machine).removePage},
		IntentAttachmentsDone: {screens: []Screen{ScreenAttachments}, do: noData((*Machine).attachmentsDone)},
		IntentAcceptConsent:   {screens: []Screen{ScreenConsent}, do: (*Machine).acceptConsent},
		IntentDeclineConsent:  {screens: []Screen{ScreenConsent}, do: noData(func(m *Machine) error { m.endSession("declined"); return nil })},
		IntentRetry:           {screens: []Screen{ScreenError, ScreenPayment}, do: noData((*Machine).retry)},
		IntentFinish:          {screens: []Screen{ScreenDone, ScreenDossierStatus, ScreenTicket}, do: noData(func(m *Machine) error { m.endSession(m.finishReason()); return nil })},

		IntentChooseDepartment: {screens: []Screen{ScreenServices}, do: (*Machine).chooseDepartment},
		IntentEnterPIN:         {screens: []Screen{ScreenStaffPIN}, do: (*Machine).enterPIN},
		IntentNextPatient:      {screens: []Screen{ScreenInsurance, ScreenStaffHome}, whileBusy: true, do: noData((*Machine).nextPatient)},
		IntentRetryInsurance:   {screens: []Screen{ScreenInsurance}, do: noData((*Machine).retryInsurance)},
		IntentStaffLogout:      {whileBusy: true, do: noData((*Machine).staffLogout)},

		IntentTechnicianLogin: {screens: []Screen{ScreenIdle, ScreenGoodbye}, do: noData((*Machine).technicianLogin)},
		IntentTechPanel:       {screens: []Screen{ScreenTechnician}, do: (*Machine).techPanel},
		IntentRunSelftest:     {screens: []Screen{ScreenTechnician}, do: noData((*Machine).runSelftest)},
		IntentPrintTest:       {screens: []Screen{ScreenTechnician}, do: noData((*Machine).printTest)},
		IntentLookupDossier:   {screens: []Screen{ScreenIdle, ScreenGoodbye, ScreenDossierLookup, ScreenDossierStatus}, do: (*Machine).lookupDossier},
	}
}

// handle checks an intent against the current screen and runs it.
func (m *Machine) handle(h handler, in Intent) error {
	if h.screens != nil && !slices.Contains(h.screens, m.screen) {
		return &IntentError{Code: "wrong_screen", Message: fmt.Sprintf("%s is not possible on the %s screen", in.Name, m.screen)}
	}
	if m.sess != nil && m.sess.busy && !h.whileBusy {
		return &IntentError{Code: "wrong_screen", Message: in.Name + " must wait: the kiosk is busy (reading, scanning, paying or filing)"}
	}
	if err := h.do(m, in.Data); err != nil {
		return err
	}
	if m.sess != nil && m.sess.busy && in.Name != IntentStillHere {
		return nil // a running job's own progress keeps the session alive
	}
	m.touch()
	return nil
}

// decode reads an intent's data strictly: one JSON object of exactly the
// expected fields.
func decode(data json.RawMessage, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return &IntentError{Code: "bad_data", Message: "this intent needs data"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &IntentError{Code: "bad_data", Message: err.Error()}
	}
	if dec.More() {
		return &IntentError{Code: "bad_data", Message: "data must be one JSON object"}
	}
	return nil
}

// noData wraps a handler for an intent that takes no data.
func noData(f func(m *Machine) error) func(m *Machine, data json.RawMessage) error {
	return func(m *Machine, data json.RawMessage) error {
		if d := bytes.TrimSpace(data); len(d) > 0 && string(d) != "null" && string(d) != "{}" {
			return &IntentError{Code: "bad_data", Message: "this intent takes no data"}
		}
		return f(m)
	}
}

func invalid(format string, args ...any) error {
	return &IntentError{Code: "invalid", Message: fmt.Sprintf(format, args...)}
}

// cleanText checks a typed value: valid UTF-8, no control characters, bounded.
func cleanText(s string, max int) (string, error) {
	if !utf8.ValidString(s) {
		return "", invalid("the value is not valid UTF-8")
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }) {
		return "", invalid("the value holds control characters")
	}
	if utf8.RuneCountInString(s) > max {
		return "", invalid("the value is longer than %d characters", max)
	}
	return strings.TrimSpace(s), nil
}
