package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/backend"
	"github.com/vnkiosk/kiosk/kiosk/outbox"
)

// backendOutput is the command's stdout, shared with the test.
type backendOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *backendOutput) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *backendOutput) field(name string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range strings.Split(b.buf.String(), "\n") {
		if v, ok := strings.CutPrefix(l, name+": "); ok {
			return v
		}
	}
	return ""
}

func TestSimBackend(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tlsDir, db := filepath.Join(dir, "tls"), filepath.Join(dir, "filings.json")
	ctx, cancel := context.WithCancel(context.Background())
	var out backendOutput
	var errOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"sim", "backend", "--listen", "127.0.0.1:0", "--tls-dir", tlsDir, "--db", db}, &out, &errOut)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for out.field("kiosk key") == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no URL printed; stderr %q", errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	url, ca := out.field("backend"), out.field("ca")
	if !strings.HasPrefix(url, "https://127.0.0.1:") || ca != filepath.Join(tlsDir, "ca.pem") {
		t.Fatalf("printed %q, %q", url, ca)
	}
	c, err := backend.New(backend.Config{BaseURL: url, CertFile: out.field("kiosk certificate"), KeyFile: out.field("kiosk key"), CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d := outbox.Delivery{IdempotencyKey: "k1", Attempt: 1, Filing: outbox.Filing{
		MaHoSo: "H01-260101-0001", ProcedureCode: "1.001193", CreatedAt: time.Now(), Body: []byte(`{"a":1}`)}}
	if err := c.Forward(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	var saved struct {
		Filings []struct {
			MaHoSo string `json:"ma_ho_so"`
		}
	}
	if err := json.Unmarshal(b, &saved); err != nil || len(saved.Filings) != 1 || saved.Filings[0].MaHoSo != d.Filing.MaHoSo {
		t.Fatalf("database file: %s (%v)", b, err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
}

func TestSimBackendUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"sim", "backend"},
		{"sim", "backend", "--tls-dir", t.TempDir(), "--error-rate", "0.8", "--drop-rate", "0.5"},
	} {
		if code, _, errOut := run(args...); code != 2 || errOut == "" {
			t.Errorf("%s: exit %d, %q", fmt.Sprint(args), code, errOut)
		}
	}
}
