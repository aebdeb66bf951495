package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

type citizen struct{ Name, ID string }

func (c citizen) String() string { return c.Name + " " + c.ID }

func TestRedaction(t *testing.T) {
	t.Parallel()
	const (
		id       = "079203012345"
		oldID    = "025123456"
		name     = "Nguyễn Văn An"
		password = "s3cr3t-pa55"
		token    = "eyJhbGciOiJIUzI1NiJ9.payload.sig"
	)
	gw := "https://egw.baohiemxahoi.gov.vn/api/egw/KQNhanLichSuKCB2024?token=" + token + "&id_token=x&username=u&password=" + url.QueryEscape(password)
	tests := []struct {
		name string
		log  func(l *slog.Logger)
	}{
		{"id number in message", func(l *slog.Logger) { l.Info("read card " + id + " ok") }},
		{"old id in message", func(l *slog.Logger) { l.Info("cmnd " + oldID) }},
		{"id under a neutral key", func(l *slog.Logger) { l.Info("lookup", "subject", id) }},
		{"name under a personal key", func(l *slog.Logger) { l.Info("session", "full_name", name) }},
		{"name under camelCase key", func(l *slog.Logger) { l.Info("bhyt", "hoTen", name, "cccdCb", id) }},
		{"url with password", func(l *slog.Logger) { l.Warn("gateway call failed", "endpoint", gw) }},
		{"url in message", func(l *slog.Logger) { l.Error("GET " + gw + " failed") }},
		{"url in error", func(l *slog.Logger) {
			l.Error("gateway", "err", fmt.Errorf("call: %w", &url.Error{Op: "Post", URL: gw, Err: errors.New("timeout")}))
		}},
		{"password key=value in text", func(l *slog.Logger) { l.Info("login with password=" + password) }},
		{"token attr", func(l *slog.Logger) { l.Info("got", "access_token", token) }},
		{"stringer carrying personal data", func(l *slog.Logger) { l.Info("x", "who", citizen{name, id}) }},
		{"photo bytes", func(l *slog.Logger) { l.Info("face", "blob", []byte(name)) }},
		{"nested group", func(l *slog.Logger) { l.Info("card", slog.Group("holder", "name", name, "id_number", id)) }},
		{"with attrs", func(l *slog.Logger) { l.With("name", name, "note", "id "+id).Info("bound") }},
		{"with group then attrs", func(l *slog.Logger) {
			l.WithGroup("card").Info("read", "mrz", "IDVNM2030123451079203012345<<5", "can", "012345")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			tt.log(New(&buf, slog.LevelDebug))
			out := buf.String()
			if out == "" {
				t.Fatal("nothing logged")
			}
			var m map[string]any
			if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			for _, secret := range []string{id, oldID, name, "Nguy", password, url.QueryEscape(password), token, "username=u", "012345"} {
				if strings.Contains(out, secret) {
					t.Errorf("log line contains %q:\n%s", secret, out)
				}
			}
		})
	}
}

func TestScrubKeepsOrdinaryText(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"printer status ok after 3 retries", "printer status ok after 3 retries"},
		{"listening on 127.0.0.1:8080", "listening on 127.0.0.1:8080"},
		{"read 18342 bytes in 120 APDUs", "read 18342 bytes in 120 APDUs"},
		{"https://backend.example/api/filings", "https://backend.example/api/filings"},
		{"https://backend.example/api?x=1", "https://backend.example/api?" + Redacted},
		{"ids 079203012345,079203012346", "ids " + Redacted + "," + Redacted},
		{"timestamp 1700000000000", "timestamp 1700000000000"}, // 13 digits: not an ID
		{"key 3f1234567890ab0c", "key 3f1234567890ab0c"},       // digits inside a hex token
	}
	for _, tt := range tests {
		if got := Scrub(tt.in); got != tt.want {
			t.Errorf("Scrub(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestIDHash(t *testing.T) {
	t.Parallel()
	a := IDHash([]byte("k1"), "079203012345")
	if a != IDHash([]byte("k1"), "079203012345") {
		t.Error("not deterministic")
	}
	if a == IDHash([]byte("k2"), "079203012345") || a == IDHash([]byte("k1"), "079203012346") {
		t.Error("hash does not depend on key and id")
	}
	if strings.Contains(a, "079203012345") || !strings.HasPrefix(a, "idh:") {
		t.Errorf("IDHash = %q", a)
	}
}

func TestLevel(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := New(&buf, slog.LevelWarn)
	l.Info("hidden")
	l.Warn("shown")
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), "shown") {
		t.Errorf("level filter: %s", buf.String())
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Error("ParseLevel accepted nonsense")
	}
}

func FuzzScrub(f *testing.F) {
	f.Add("id 079203012345 at https://x/y?password=p")
	f.Fuzz(func(t *testing.T, s string) {
		out := Scrub(s)
		if idRE.MatchString(out) {
			t.Fatalf("Scrub left an ID-shaped number: %q -> %q", s, out)
		}
	})
}
