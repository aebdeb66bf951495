package control

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func serve(t *testing.T, path string, h http.Handler) {
	t.Helper()
	l, err := Listen(path, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

func TestClientServer(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(shortDir(t), "c.sock")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, 200, Status{Version: "1.2.3", KioskID: "K1", Subsystems: []Subsystem{{Name: "ui", State: "ok"}}})
	})
	mux.HandleFunc("POST /v1/echo", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, http.StatusConflict, "the outbox is full; free disk space")
	})
	serve(t, sock, mux)
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o660 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket mode %v %v", fi.Mode(), err)
	}
	c := NewClient(sock)
	st, err := c.Status(context.Background())
	if err != nil || st.Version != "1.2.3" || st.Subsystems[0].Name != "ui" {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	err = c.Do(context.Background(), "POST", "/v1/echo", map[string]int{"a": 1}, nil)
	if err == nil || err.Error() != "the outbox is full; free disk space" {
		t.Errorf("error body not surfaced: %v", err)
	}
	if _, err := Listen(sock, ""); err == nil || !strings.Contains(err.Error(), "another kioskd is running") {
		t.Errorf("second Listen on a live socket: %v", err)
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(shortDir(t), "c.sock")
	l, err := Listen(sock, "")
	if err != nil {
		t.Fatal(err)
	}
	// Simulate a crash: the file stays, nobody listens.
	l.(interface{ SetUnlinkOnClose(bool) }).SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	l2, err := Listen(sock, "")
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	l2.Close()
}

func TestClientNoDaemon(t *testing.T) {
	t.Parallel()
	c := NewClient(filepath.Join(shortDir(t), "none.sock"))
	_, err := c.Status(context.Background())
	if err == nil || !strings.Contains(err.Error(), "kioskd is not answering on") {
		t.Errorf("err = %v", err)
	}
}

func TestFindSocket(t *testing.T) {
	// Not parallel: it sets KIOSKD_SOCKET.
	if p, err := FindSocket("/x/explicit.sock"); err != nil || p != "/x/explicit.sock" {
		t.Errorf("explicit: %q %v", p, err)
	}
	t.Setenv("KIOSKD_SOCKET", "/x/env.sock")
	if p, err := FindSocket(""); err != nil || p != "/x/env.sock" {
		t.Errorf("env: %q %v", p, err)
	}
	t.Setenv("KIOSKD_SOCKET", "")
	if _, err := os.Stat(DefaultSocket); err == nil {
		t.Skip("a kioskd service socket exists on this machine")
	}
	demo := DemoSocket()
	if _, err := os.Stat(demo); err == nil {
		t.Skip("a demo kioskd may be running")
	}
	if err := os.MkdirAll(filepath.Dir(demo), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := FindSocket(""); err == nil || !strings.Contains(err.Error(), "no running kioskd found") {
		t.Errorf("nothing running: %v", err)
	}
	serve(t, demo, http.NotFoundHandler())
	if p, err := FindSocket(""); err != nil || p != demo {
		t.Errorf("demo socket not found: %q %v", p, err)
	}
}
