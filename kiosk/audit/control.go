package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/control"
)

// Routes serves GET /v1/audit?since=YYYY-MM-DD on the control socket: the CSV
// export of the entries from the start of that day in Vietnam time. A failure
// after the CSV has started aborts the connection, so the client sees an error
// rather than a file that looks complete.
func Routes(l *Log) func(*http.ServeMux) {
	return func(mux *http.ServeMux) {
		mux.HandleFunc("GET /v1/audit", func(w http.ResponseWriter, r *http.Request) {
			s := r.URL.Query().Get("since")
			if s == "" {
				control.WriteError(w, http.StatusBadRequest, "since is required: ?since=YYYY-MM-DD")
				return
			}
			since, err := ParseDay(s)
			if err != nil {
				control.WriteError(w, http.StatusBadRequest, "since: "+err.Error())
				return
			}
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			if err := l.Export(r.Context(), w, since); err != nil {
				panic(http.ErrAbortHandler)
			}
		})
	}
}

// ExportVia fetches the CSV export from the running kioskd through c's socket
// and copies it to w. control.Client.Do decodes JSON only, so this makes its own
// request over the same socket.
func ExportVia(ctx context.Context, c *control.Client, since time.Time, w io.Writer) error {
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", c.Socket)
		},
		DisableKeepAlives: true,
	}}
	u := "http://kioskd/v1/audit?since=" + url.QueryEscape(since.In(Vietnam).Format(time.DateOnly))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("kioskd is not answering on %s: %w", c.Socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var eb control.ErrorBody
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &eb) == nil && eb.Error != "" {
			return fmt.Errorf("audit export: %s", eb.Error)
		}
		return fmt.Errorf("audit export: kioskd answered %s", resp.Status)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("audit export: the export was cut off: %w", err)
	}
	return nil
}
