package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/vnkiosk/kiosk/kiosk/session"
)

type fakeDemo struct {
	mu      sync.Mutex
	actions []string // "action|arg"
	fail    error
}

func (f *fakeDemo) DemoState(context.Context) (DemoState, error) {
	return DemoState{
		Cards:    []DemoCard{{Name: "nguyen-van-an", Label: "Nguyễn Văn An"}},
		Inserted: "nguyen-van-an",
		Faults:   []DemoFault{{Name: "printer_paper_out", Label: session.Text{VI: "Hết giấy", EN: "Out of paper"}}},
	}, nil
}

func (f *fakeDemo) DemoAction(_ context.Context, action, arg string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.actions = append(f.actions, action+"|"+arg)
	return nil
}

func (f *fakeDemo) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.actions...)
}

func demoRequest(t *testing.T, s *Server, method, path, origin, key, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+strings.TrimPrefix(path, "/"), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if key != "" {
		req.Header.Set("X-Kiosk-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, path, b, err)
		}
	}
	return resp.StatusCode, m
}

func TestDemoAPI(t *testing.T) {
	t.Parallel()
	demo := &fakeDemo{}
	s := startServer(t, Options{Demo: demo}, nil)
	org := originOf(s)
	wrong := strings.Repeat("b", 64)
	cases := []struct {
		name, method, origin, key, body string
		want                            int
	}{
		{"state without key", "GET", "", "", "", http.StatusUnauthorized},
		{"state with wrong key", "GET", "", wrong, "", http.StatusUnauthorized},
		{"action without origin", "POST", "", testSecret, `{"action":"remove_card"}`, http.StatusForbidden},
		{"action from foreign origin", "POST", "http://evil.example", testSecret, `{"action":"remove_card"}`, http.StatusForbidden},
		{"action without key", "POST", org, "", `{"action":"remove_card"}`, http.StatusUnauthorized},
		{"action with wrong key", "POST", org, wrong, `{"action":"remove_card"}`, http.StatusUnauthorized},
		{"unknown action", "POST", org, testSecret, `{"action":"explode"}`, http.StatusBadRequest},
		{"unknown field", "POST", org, testSecret, `{"action":"pay","amount":1}`, http.StatusBadRequest},
		{"missing arg", "POST", org, testSecret, `{"action":"insert_card"}`, http.StatusBadRequest},
		{"needless arg", "POST", org, testSecret, `{"action":"pay","arg":"x"}`, http.StatusBadRequest},
		{"two objects", "POST", org, testSecret, `{"action":"pay"}{"action":"pay"}`, http.StatusBadRequest},
		{"body over 4 KiB", "POST", org, testSecret, `{"action":"fault","arg":"` + strings.Repeat("a", 4<<10) + `"}`, http.StatusBadRequest},
	}
	for _, tc := range cases {
		path := "/demo/api/state"
		if tc.method == "POST" {
			path = "/demo/api/action"
		}
		code, body := demoRequest(t, s, tc.method, path, tc.origin, tc.key, tc.body)
		if code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, code, tc.want)
		}
		if msg, _ := body["error"].(string); msg == "" {
			t.Errorf("%s: body %v lacks {\"error\": ...}", tc.name, body)
		}
	}
	if got := demo.recorded(); len(got) != 0 {
		t.Fatalf("refused requests reached the demo: %q", got)
	}

	code, st := demoRequest(t, s, "GET", "/demo/api/state", "", testSecret, "")
	if code != http.StatusOK || st["inserted"] != "nguyen-van-an" || st["pending_payment"] != "" {
		t.Errorf("state: %d %v", code, st)
	}
	if faults, _ := st["faults"].([]any); len(faults) != 1 || faults[0].(map[string]any)["label"].(map[string]any)["vi"] != "Hết giấy" {
		t.Errorf("faults %v", st["faults"])
	}
	code, _ = demoRequest(t, s, "POST", "/demo/api/action", org, testSecret, `{"action":"insert_card","arg":"nguyen-van-an"}`)
	if code != http.StatusOK {
		t.Fatalf("action with key and origin: %d", code)
	}
	if got := demo.recorded(); len(got) != 1 || got[0] != "insert_card|nguyen-van-an" {
		t.Errorf("recorded %q", got)
	}

	for _, tc := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("card %q: %w", "x", ErrDemoNotFound), http.StatusNotFound},
		{ErrDemoRefused, http.StatusBadRequest},
		{errors.New("simulator down"), http.StatusInternalServerError},
	} {
		demo.mu.Lock()
		demo.fail = tc.err
		demo.mu.Unlock()
		if code, _ := demoRequest(t, s, "POST", "/demo/api/action", org, testSecret, `{"action":"fault","arg":"x"}`); code != tc.want {
			t.Errorf("DemoAction error %v: %d, want %d", tc.err, code, tc.want)
		}
	}
}

func TestDemoPage(t *testing.T) {
	t.Parallel()
	if _, err := fs.Stat(webFS, "web/demo.html"); err != nil {
		t.Skip("ui/web/demo.html not written yet")
	}
	s := startServer(t, Options{Demo: &fakeDemo{}}, nil)
	resp, err := http.Get(s.URL() + "demo")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		resp.Header.Get("Content-Security-Policy") != CSP {
		t.Errorf("GET /demo: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
