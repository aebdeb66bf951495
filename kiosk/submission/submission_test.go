package submission

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/control"
	"github.com/vnkiosk/kiosk/kiosk/filing"
	"github.com/vnkiosk/kiosk/kiosk/outbox"
	"github.com/vnkiosk/kiosk/kiosk/procedure"
)

// recorder is a Forwarder that accepts everything and remembers what came.
type recorder struct {
	mu  sync.Mutex
	got []outbox.Delivery
}

func (r *recorder) Forward(_ context.Context, d outbox.Delivery) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, d)
	return nil
}

func TestSubmitThroughControlSocket(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "sub")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	fwd := &recorder{}
	ob, err := outbox.New(outbox.Options{StateDir: dir, Key: make([]byte, 32), Forwarder: fwd})
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer ob.Stop(context.Background())

	sock := filepath.Join(dir, "c.sock")
	ln, err := control.Listen(sock, "")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	(&Intake{Outbox: ob}).Routes(mux)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	cl := control.NewClient(sock)

	ex, err := filing.Example(procedure.All()[0].Code)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := filing.Encode(ex)
	rec, err := SubmitVia(context.Background(), cl, Request{Filing: raw, Attachments: []Attachment{{Name: "page1.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4")}}})
	if err != nil {
		t.Fatal(err)
	}
	if rec.MaHoSo != ex.MaHoSo || rec.OutboxID == 0 || len(rec.IdempotencyKey) != 32 {
		t.Errorf("receipt %+v", rec)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		fwd.mu.Lock()
		n := len(fwd.got)
		fwd.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("filing not forwarded")
		}
	}
	d := fwd.got[0]
	if d.Filing.MaHoSo != ex.MaHoSo || len(d.Filing.Attachments) != 1 || d.IdempotencyKey != rec.IdempotencyKey {
		t.Errorf("forwarded %+v", d.Filing)
	}

	bad := strings.Replace(string(raw), `"procedure_code":"`+ex.ProcedureCode+`"`, `"procedure_code":"9.999999"`, 1)
	_, err = SubmitVia(context.Background(), cl, Request{Filing: []byte(bad)})
	if err == nil || !strings.Contains(err.Error(), "filing is not valid") {
		t.Errorf("invalid filing: %v", err)
	}
	if err := cl.Do(context.Background(), "POST", "/v1/filings", map[string]string{"unexpected": "x"}, nil); err == nil {
		t.Error("a request with unknown fields was accepted")
	}

	v, err := OutboxVia(context.Background(), cl)
	if err != nil || v.Stats.Pending != 0 {
		t.Errorf("outbox %+v %v", v, err)
	}
	if err := RetryVia(context.Background(), cl, 999); err == nil || !strings.Contains(err.Error(), "no outbox entry 999") {
		t.Errorf("retry unknown: %v", err)
	}
}
