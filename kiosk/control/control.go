// Package control owns the local control socket: a small JSON-over-HTTP API on a
// unix socket (mode 0660, group kiosk) through which kioskctl asks the running
// kioskd for its status and, as later capabilities land, hands it work. It has the
// server side (a listener with the right ownership), the client side kioskctl uses,
// and the rules by which kioskctl finds a running daemon's socket by itself.
package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultSocket is where a kioskd installed as a service listens.
const DefaultSocket = "/run/kioskd/control.sock"

// DemoSocket is where `kioskd --demo` listens, one per user, so that kioskctl finds
// a demo daemon without being told.
func DemoSocket() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("kioskd-demo-%d", os.Getuid()), "control.sock")
}

// Status is the answer to GET /v1/status.
type Status struct {
	Version    string      `json:"version"`
	Revision   string      `json:"revision,omitempty"`
	StartedAt  time.Time   `json:"started_at"`
	UptimeSec  float64     `json:"uptime_seconds"`
	ConfigPath string      `json:"config_path"`
	KioskID    string      `json:"kiosk_id"`
	SiteKind   string      `json:"site_kind"`
	SiteCode   string      `json:"site_code"`
	Demo       bool        `json:"demo"`
	UIURL      string      `json:"ui_url"`
	Ready      bool        `json:"ready"`
	Subsystems []Subsystem `json:"subsystems"`
}

// Subsystem is one part of the daemon and its health.
type Subsystem struct {
	Name   string `json:"name"`
	State  string `json:"state"` // ok, degraded, absent, failed, starting, stopped
	Reason string `json:"reason,omitempty"`
}

// Device is one entry of GET /v1/devices.
type Device struct {
	Name       string `json:"name"`
	State      string `json:"state"` // ok, degraded, absent, failed
	Reason     string `json:"reason,omitempty"`
	Attachment string `json:"attachment,omitempty"`
}

// Devices asks for the hardware subsystems and their health.
func (c *Client) Devices(ctx context.Context) ([]Device, error) {
	var ds []Device
	if err := c.Do(ctx, http.MethodGet, "/v1/devices", nil, &ds); err != nil {
		return nil, err
	}
	return ds, nil
}

// ErrorBody is what every failed request answers.
type ErrorBody struct {
	Error string `json:"error"`
}

// Listen creates the unix socket at path, replacing a stale one but refusing to
// take over a socket a live daemon still answers on. The socket is 0660 and, when
// group exists, owned by it, so operators in that group can use kioskctl without
// root.
func Listen(path, group string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("control socket directory: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: another kioskd is running and answers there", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale control socket: %w", err)
	}
	// The socket is made 0660 after bind. The umask cannot do it: it is
	// process-wide, and changing it would race with every other goroutine
	// creating files. The moment between bind and chmod is covered by the
	// directory, which is 0750 (systemd's RuntimeDirectory) or 0700 (demo).
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, fmt.Errorf("control socket mode: %w", err)
	}
	if group != "" {
		if g, err := user.LookupGroup(group); err == nil {
			gid, _ := strconv.Atoi(g.Gid)
			if err := os.Chown(path, -1, gid); err != nil && !errors.Is(err, syscall.EPERM) {
				l.Close()
				return nil, fmt.Errorf("control socket group: %w", err)
			}
		}
	}
	return l, nil
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError answers with an ErrorBody.
func WriteError(w http.ResponseWriter, code int, msg string) {
	WriteJSON(w, code, ErrorBody{Error: msg})
}

// Client talks to a kioskd control socket.
type Client struct {
	Socket string
	hc     *http.Client
}

// NewClient returns a client for the socket at path.
func NewClient(path string) *Client {
	return &Client{Socket: path, hc: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true,
	}}}
}

// Do sends a request with in as the JSON body (nil for none) and decodes the
// answer into out (nil to discard). A non-2xx answer becomes an error carrying the
// daemon's sentence.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://kioskd"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("kioskd is not answering on %s: %w", c.Socket, unwrapDial(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read answer from kioskd: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var eb ErrorBody
		if json.Unmarshal(b, &eb) == nil && eb.Error != "" {
			return errors.New(eb.Error)
		}
		return fmt.Errorf("kioskd answered %s", resp.Status)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode answer from kioskd: %w", err)
	}
	return nil
}

func unwrapDial(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Err
	}
	return err
}

// Status asks for the daemon's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	if err := c.Do(ctx, http.MethodGet, "/v1/status", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// FindSocket picks the control socket to use: the explicit one if given, else
// $KIOSKD_SOCKET, else the first of the service socket and this user's demo socket
// that a daemon answers on. When none answers it says where it looked.
func FindSocket(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if env := os.Getenv("KIOSKD_SOCKET"); env != "" {
		return env, nil
	}
	candidates := []string{DefaultSocket, DemoSocket()}
	var alive []string
	for _, p := range candidates {
		if c, err := net.DialTimeout("unix", p, 300*time.Millisecond); err == nil {
			c.Close()
			alive = append(alive, p)
		}
	}
	if len(alive) > 0 {
		return alive[0], nil
	}
	return "", fmt.Errorf("no running kioskd found (looked at %s); start it or pass --socket PATH", strings.Join(candidates, ", "))
}
