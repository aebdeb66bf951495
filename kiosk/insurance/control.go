package insurance

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/control"
)

// CheckRequest is the body of the control API's POST /v1/insurance/check.
type CheckRequest struct {
	CardNumber string `json:"card_number"`
	Name       string `json:"name"`
	DOB        string `json:"dob"` // DD/MM/YYYY or YYYY
	StaffName  string `json:"staff_name,omitempty"`
	StaffID    string `json:"staff_id,omitempty"`
}

// CheckAnswer is its answer: the keys kioskctl insurance check --json prints.
type CheckAnswer struct {
	ResultCode         string `json:"result_code"` // maKetQua; "" when the gateway gave none
	Message            string `json:"message"`     // Vietnamese
	CardNumber         string `json:"card_number"`
	ValidFrom          string `json:"valid_from"` // YYYY-MM-DD
	ValidTo            string `json:"valid_to"`
	RegisteredFacility string `json:"registered_facility"` // "code name"
	FiveYearDate       string `json:"five_year_date"`
	NewCardNumber      string `json:"new_card_number"` // 003/004
	Kind               Kind   `json:"kind"`
	MessageEN          string `json:"message_en"`
	Retryable          bool   `json:"retryable"`
}

// Answer is the control API's view of a Result.
func (r Result) Answer() CheckAnswer {
	return CheckAnswer{
		ResultCode: r.Code, Message: r.Message.VI, CardNumber: r.CardNumber,
		ValidFrom: r.ValidFrom, ValidTo: r.ValidTo, RegisteredFacility: r.RegisteredFacility.String(),
		FiveYearDate: r.FiveYearDate, NewCardNumber: r.NewCardNumber,
		Kind: r.Kind, MessageEN: r.Message.EN, Retryable: r.Retryable(),
	}
}

// checkTimeout bounds a check asked over the control socket: login, lookup
// and one re-login at the client's timeout each fit in it by default.
const checkTimeout = 45 * time.Second

// Checker checks a card: *Client, or a wrapper that also audits the check.
type Checker interface {
	Check(ctx context.Context, q Query) (Result, error)
}

// Routes adds POST /v1/insurance/check to the control API. A nil checker (no
// insurance: section configured) answers 503 with a sentence saying so.
func Routes(c Checker) func(*http.ServeMux) {
	return func(mux *http.ServeMux) {
		mux.HandleFunc("POST /v1/insurance/check", func(w http.ResponseWriter, r *http.Request) {
			if c == nil {
				control.WriteError(w, http.StatusServiceUnavailable, "insurance checks are not configured on this kiosk (insurance: section)")
				return
			}
			var req CheckRequest
			dec := json.NewDecoder(io.LimitReader(r.Body, 16<<10))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil {
				control.WriteError(w, http.StatusBadRequest, "the request is not an insurance check")
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
			defer cancel()
			res, err := c.Check(ctx, Query(req))
			switch {
			case errors.Is(err, ErrInvalidQuery):
				control.WriteError(w, http.StatusBadRequest, err.Error())
			case err != nil:
				control.WriteError(w, http.StatusInternalServerError, "the insurance check failed")
			default:
				control.WriteJSON(w, http.StatusOK, res.Answer())
			}
		})
	}
}

// CheckVia asks a running kioskd to check a card (kioskctl insurance check).
func CheckVia(ctx context.Context, cl *control.Client, req CheckRequest) (CheckAnswer, error) {
	var a CheckAnswer
	if err := cl.Do(ctx, http.MethodPost, "/v1/insurance/check", req, &a); err != nil {
		return CheckAnswer{}, err
	}
	return a, nil
}
