// Package submission owns accepting a finished filing: it checks the filing
// against its procedure (kiosk/filing), queues it durably in the outbox, and only
// then answers with its MaHoSo — the moment the citizen may be told "submitted".
// The UI flow and `kioskctl filing submit` (through the control socket) both come
// through here, so a technician's test filing takes exactly the citizen's path.
package submission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/vnkiosk/kiosk/kiosk/control"
	"github.com/vnkiosk/kiosk/kiosk/filing"
	"github.com/vnkiosk/kiosk/kiosk/outbox"
)

// Request is POST /v1/filings on the control socket: the filing JSON as the UI
// flow produces it, and the documents scanned for it.
type Request struct {
	Filing      json.RawMessage `json:"filing"`
	Attachments []Attachment    `json:"attachments,omitempty"`
}

// Attachment is one document; Data is base64 in JSON.
type Attachment struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Data        []byte `json:"data"`
}

// Receipt answers a submission once it is durably queued.
type Receipt struct {
	MaHoSo         string `json:"ma_ho_so"`
	OutboxID       int64  `json:"outbox_id"`
	IdempotencyKey string `json:"idempotency_key"`
}

// OutboxView is GET /v1/outbox: the queue's status and its entries, without
// personal data.
type OutboxView struct {
	Stats   outbox.Stats   `json:"stats"`
	Entries []outbox.Entry `json:"entries"`
}

// ErrInvalid wraps a filing that does not match its procedure.
var ErrInvalid = errors.New("filing is not valid")

// maxRequest bounds a submission: the filing plus scanned pages.
const maxRequest = 64 << 20

// Intake accepts filings into an outbox.
type Intake struct {
	Outbox *outbox.Outbox
}

// Submit validates and queues a filing; it returns once the filing is durable.
func (in *Intake) Submit(ctx context.Context, raw []byte, atts []Attachment) (Receipt, error) {
	f, err := filing.Decode(raw)
	if err != nil {
		return Receipt{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	of := outbox.Filing{MaHoSo: f.MaHoSo, ProcedureCode: f.ProcedureCode, CreatedAt: f.CreatedAt, Body: raw}
	for _, a := range atts {
		of.Attachments = append(of.Attachments, outbox.Attachment{Name: a.Name, ContentType: a.ContentType, Data: a.Data})
	}
	r, err := in.Outbox.Enqueue(ctx, of)
	if err != nil {
		return Receipt{}, err
	}
	return Receipt{MaHoSo: f.MaHoSo, OutboxID: r.ID, IdempotencyKey: r.IdempotencyKey}, nil
}

// Routes adds the control API: POST /v1/filings, GET /v1/outbox and
// POST /v1/outbox/{id}/retry.
func (in *Intake) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/filings", func(w http.ResponseWriter, r *http.Request) {
		var req Request
		dec := json.NewDecoder(io.LimitReader(r.Body, maxRequest))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			control.WriteError(w, http.StatusBadRequest, "the request is not a submission: "+err.Error())
			return
		}
		rec, err := in.Submit(r.Context(), req.Filing, req.Attachments)
		var refused *outbox.RefusedError
		switch {
		case err == nil:
			control.WriteJSON(w, http.StatusCreated, rec)
		case errors.Is(err, ErrInvalid):
			control.WriteError(w, http.StatusUnprocessableEntity, err.Error())
		case errors.As(err, &refused):
			control.WriteError(w, http.StatusInsufficientStorage, refused.English()+" / "+refused.Vietnamese())
		default:
			control.WriteError(w, http.StatusServiceUnavailable, "the filing was not queued: "+err.Error())
		}
	})
	mux.HandleFunc("GET /v1/outbox", func(w http.ResponseWriter, r *http.Request) {
		st, err := in.Outbox.Stats(r.Context())
		if err != nil {
			control.WriteError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		es, err := in.Outbox.List(r.Context(), 0)
		if err != nil {
			control.WriteError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		control.WriteJSON(w, http.StatusOK, OutboxView{Stats: st, Entries: es})
	})
	mux.HandleFunc("POST /v1/outbox/{id}/retry", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			control.WriteError(w, http.StatusBadRequest, "outbox id must be a number")
			return
		}
		switch err := in.Outbox.Retry(r.Context(), id); {
		case err == nil:
			control.WriteJSON(w, http.StatusOK, map[string]int64{"retried": id})
		case errors.Is(err, outbox.ErrNotFound):
			control.WriteError(w, http.StatusNotFound, fmt.Sprintf("no outbox entry %d", id))
		case errors.Is(err, outbox.ErrNotDeadLetter):
			control.WriteError(w, http.StatusConflict, fmt.Sprintf("outbox entry %d is not a dead letter; it is still being sent", id))
		default:
			control.WriteError(w, http.StatusServiceUnavailable, err.Error())
		}
	})
}

// Client calls for kioskctl.

// SubmitVia hands a filing to the daemon behind c.
func SubmitVia(ctx context.Context, c *control.Client, req Request) (Receipt, error) {
	var r Receipt
	err := c.Do(ctx, http.MethodPost, "/v1/filings", req, &r)
	return r, err
}

// OutboxVia asks the daemon behind c for its outbox.
func OutboxVia(ctx context.Context, c *control.Client) (OutboxView, error) {
	var v OutboxView
	err := c.Do(ctx, http.MethodGet, "/v1/outbox", nil, &v)
	return v, err
}

// RetryVia asks the daemon to retry a dead letter.
func RetryVia(ctx context.Context, c *control.Client, id int64) error {
	return c.Do(ctx, http.MethodPost, fmt.Sprintf("/v1/outbox/%d/retry", id), nil, nil)
}
