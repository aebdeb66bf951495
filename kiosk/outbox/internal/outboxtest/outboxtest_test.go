package outboxtest

import (
	"context"
	"net/http"
	"testing"

	"github.com/vnkiosk/kiosk/kiosk/outbox"
)

// TestRoundTripAndUpsert: what the Forwarder sends the Server hashes the same
// as the filing; a second delivery of a key counts but keeps the first content;
// injected statuses reach the outbox classified.
func TestRoundTripAndUpsert(t *testing.T) {
	t.Parallel()
	s := NewServer(Faults{}, 1)
	defer s.Close()
	fw := &Forwarder{URL: s.URL}
	f := outbox.Filing{MaHoSo: "H01-1", ProcedureCode: "1.001193", Body: []byte(`{"a":1}`),
		Attachments: []outbox.Attachment{{Name: "trang 1 (bản chụp).jpg", ContentType: "image/jpeg", Data: []byte{0, 1, 2, 0xff}}, {Name: "", ContentType: "application/pdf", Data: nil}}}
	d := outbox.Delivery{OutboxID: 1, IdempotencyKey: "k1", Attempt: 1, Filing: f}
	for range 2 {
		if err := fw.Forward(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	other := d
	other.Filing.Body = []byte(`{"a":2}`)
	if err := fw.Forward(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	r := s.Records()["k1"]
	if r.Hash != ContentHash(f) || r.Deliveries != 3 || r.Conflicts != 1 {
		t.Fatalf("record %+v, want hash %s, 3 deliveries, 1 conflict", r, ContentHash(f))
	}
	tests := []struct {
		status    int
		permanent bool
	}{{http.StatusServiceUnavailable, false}, {http.StatusUnprocessableEntity, true}, {http.StatusTooManyRequests, false}}
	for _, tc := range tests {
		s.SetStatus(tc.status)
		err := fw.Forward(context.Background(), outbox.Delivery{IdempotencyKey: "k2", Filing: f})
		if err == nil || outbox.IsPermanent(err) != tc.permanent {
			t.Errorf("status %d: err %v, permanent %v", tc.status, err, outbox.IsPermanent(err))
		}
	}
	if _, ok := s.Records()["k2"]; ok {
		t.Error("a refused delivery was stored")
	}
}

func TestForwarderNetworkErrorIsRetryable(t *testing.T) {
	t.Parallel()
	s := NewServer(Faults{}, 1)
	url := s.URL
	s.Close()
	err := (&Forwarder{URL: url}).Forward(context.Background(), outbox.Delivery{IdempotencyKey: "k", Filing: outbox.Filing{Body: []byte("{}")}})
	if err == nil || outbox.IsPermanent(err) {
		t.Fatalf("closed server: %v", err)
	}
}
