package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/vnkiosk/kiosk/kiosk/session"
)

const testSecret = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// fakeSession holds a State and signals watchers the way the session machine
// does: a capacity-1 channel, sent to without blocking.
type fakeSession struct {
	mu       sync.Mutex
	state    session.State
	watchers map[chan struct{}]struct{}
	intents  []session.Intent
	do       func(ctx context.Context, in session.Intent) error
}

func newFakeSession() *fakeSession {
	return &fakeSession{
		state:    session.State{Seq: 1, Screen: session.ScreenIdle, Lang: "vi", Mode: "ward", Say: "say.idle"},
		watchers: make(map[chan struct{}]struct{}),
	}
}

func (f *fakeSession) Watch() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	f.mu.Lock()
	f.watchers[ch] = struct{}{}
	f.mu.Unlock()
	return ch, func() {
		f.mu.Lock()
		delete(f.watchers, ch)
		f.mu.Unlock()
	}
}

func (f *fakeSession) State() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := json.Marshal(f.state)
	if err != nil {
		panic(err)
	}
	return b
}

func (f *fakeSession) Do(ctx context.Context, in session.Intent) error {
	f.mu.Lock()
	f.intents = append(f.intents, in)
	do := f.do
	f.mu.Unlock()
	if do != nil {
		return do(ctx, in)
	}
	return nil
}

// change mutates the state, bumps Seq and signals every watcher.
func (f *fakeSession) change(mut func(*session.State)) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if mut != nil {
		mut(&f.state)
	}
	f.state.Seq++
	for ch := range f.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	return f.state.Seq
}

func (f *fakeSession) watcherCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.watchers)
}

func (f *fakeSession) recorded() []session.Intent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]session.Intent(nil), f.intents...)
}

// startServer runs a real Server on 127.0.0.1:0 with the test secret and, unless
// given one, a fake session; tweak adjusts the timings before Start.
func startServer(t *testing.T, o Options, tweak func(*Server)) *Server {
	t.Helper()
	o.Addr = "127.0.0.1:0"
	if o.Secret == "" {
		o.Secret = testSecret
	}
	if o.Session == nil {
		o.Session = newFakeSession()
	}
	s := New(o)
	if tweak != nil {
		tweak(s)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return s
}

func hostOf(s *Server) string {
	return strings.TrimSuffix(strings.TrimPrefix(s.URL(), "http://"), "/")
}

func originOf(s *Server) string { return "http://" + hostOf(s) }

func goodProtocols() []string { return []string{"kiosk.v1", "kiosk.key." + testSecret} }

func dial(s *Server, hdr http.Header, protocols []string) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: protocols}
	return d.Dial("ws://"+hostOf(s)+"/ws", hdr)
}

// connect dials with everything right and consumes hello; it returns the
// connection and the first state.
func connect(t *testing.T, s *Server) (*websocket.Conn, session.State) {
	t.Helper()
	c, resp, err := dial(s, http.Header{"Origin": {originOf(s)}}, goodProtocols())
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	t.Cleanup(func() { _ = c.Close() })
	hello := readFrame(t, c)
	if hello["type"] != "hello" {
		t.Fatalf("first frame %v, want hello", hello)
	}
	return c, readState(t, c)
}

type frame map[string]any

func readFrame(t *testing.T, c *websocket.Conn) frame {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	mt, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if mt != websocket.TextMessage {
		t.Fatalf("server sent message type %d", mt)
	}
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("server frame %q: %v", b, err)
	}
	return f
}

func readState(t *testing.T, c *websocket.Conn) session.State {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var f struct {
		Type  string        `json:"type"`
		State session.State `json:"state"`
	}
	if err := json.Unmarshal(b, &f); err != nil || f.Type != "state" {
		t.Fatalf("frame %q is not a state (%v)", b, err)
	}
	return f.State
}

// readUntil reads frames until one of type typ arrives, skipping states.
func readUntil(t *testing.T, c *websocket.Conn, typ string) frame {
	t.Helper()
	for {
		f := readFrame(t, c)
		if f["type"] == typ {
			return f
		}
		if f["type"] != "state" {
			t.Fatalf("got %v while waiting for %s", f, typ)
		}
	}
}

func send(t *testing.T, c *websocket.Conn, s string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func TestAdmission(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{}, nil)
	port := strings.TrimPrefix(hostOf(s), "127.0.0.1:")
	wrongKey := strings.Repeat("a", 64)
	cases := []struct {
		name      string
		host      string
		origin    string
		protocols []string
		want      int
	}{
		{"foreign origin", "", "http://evil.example", goodProtocols(), http.StatusForbidden},
		{"missing origin", "", "", goodProtocols(), http.StatusForbidden},
		{"origin on another port", "", "http://127.0.0.1:1", goodProtocols(), http.StatusForbidden},
		{"https origin", "", "https://127.0.0.1:" + port, goodProtocols(), http.StatusForbidden},
		{"null origin", "", "null", goodProtocols(), http.StatusForbidden},
		{"foreign host, right origin", "evil.example:" + port, originOf(s), goodProtocols(), http.StatusForbidden},
		{"no secret", "", originOf(s), []string{"kiosk.v1"}, http.StatusUnauthorized},
		{"wrong secret", "", originOf(s), []string{"kiosk.v1", "kiosk.key." + wrongKey}, http.StatusUnauthorized},
		{"secret upper-case", "", originOf(s), []string{"kiosk.v1", "kiosk.key." + strings.ToUpper(testSecret)}, http.StatusUnauthorized},
		{"two keys", "", originOf(s), []string{"kiosk.v1", "kiosk.key." + wrongKey, "kiosk.key." + testSecret}, http.StatusUnauthorized},
		{"no kiosk.v1", "", originOf(s), []string{"kiosk.v2", "kiosk.key." + testSecret}, http.StatusUnauthorized},
		{"no protocols", "", originOf(s), nil, http.StatusUnauthorized},
		{"right everything", "", originOf(s), goodProtocols(), http.StatusSwitchingProtocols},
		{"localhost origin", "localhost:" + port, "http://localhost:" + port, goodProtocols(), http.StatusSwitchingProtocols},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hdr := http.Header{}
			if tc.origin != "" {
				hdr.Set("Origin", tc.origin)
			}
			if tc.host != "" {
				hdr.Set("Host", tc.host)
			}
			c, resp, err := dial(s, hdr, tc.protocols)
			if resp == nil {
				t.Fatalf("no HTTP response: %v", err)
			}
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want != http.StatusSwitchingProtocols {
				return
			}
			defer c.Close()
			if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "kiosk.v1" {
				t.Errorf("subprotocol %q, want kiosk.v1 (and never the key)", got)
			}
			hello := readFrame(t, c)
			if hello["type"] != "hello" || hello["protocol"] != 1.0 || hello["heartbeat_ms"] != 10000.0 {
				t.Errorf("hello = %v", hello)
			}
			st := readState(t, c)
			if st.Screen != session.ScreenIdle || st.Seq != 1 {
				t.Errorf("first state = %+v", st)
			}
		})
	}
}

func TestWebsocketWithoutSessionIs503(t *testing.T) {
	t.Parallel()
	s := New(Options{Addr: "127.0.0.1:0", Secret: testSecret})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	_, resp, err := dial(s, http.Header{"Origin": {originOf(s)}}, goodProtocols())
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial without a session: %v %v, want 503", resp, err)
	}
	if h := s.Health(); h.State != "degraded" {
		t.Errorf("Health() = %+v, want degraded", h)
	}
}

func TestEmptySecretRefusesEveryone(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{}, nil)
	s.opt.Secret = "" // as if the integrator never set one
	for _, p := range [][]string{{"kiosk.v1", "kiosk.key."}, {"kiosk.v1"}} {
		_, resp, _ := dial(s, http.Header{"Origin": {originOf(s)}}, p)
		if resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("protocols %q with no secret: %v, want 401", p, resp)
		}
	}
}

func TestIntentAcceptedAndStatePushed(t *testing.T) {
	t.Parallel()
	fs := newFakeSession()
	fs.do = func(_ context.Context, in session.Intent) error {
		fs.change(func(st *session.State) { st.Lang = "en" })
		return nil
	}
	s := startServer(t, Options{Session: fs}, nil)
	c, _ := connect(t, s)
	send(t, c, `{"type":"intent","id":"c17","name":"set_language","data":{"lang":"en"}}`)
	gotAck, gotState := false, false
	for !gotAck || !gotState {
		f := readFrame(t, c)
		switch f["type"] {
		case "ack":
			if f["id"] != "c17" {
				t.Fatalf("ack %v", f)
			}
			gotAck = true
		case "state":
			st := f["state"].(map[string]any)
			if st["lang"] != "en" || st["seq"] != 2.0 {
				t.Fatalf("state %v", st)
			}
			gotState = true
		default:
			t.Fatalf("unexpected %v", f)
		}
	}
	in := fs.recorded()
	if len(in) != 1 || in[0].Name != "set_language" || string(in[0].Data) != `{"lang":"en"}` {
		t.Errorf("session got %+v", in)
	}
	send(t, c, `{"type":"ping","id":"p3"}`)
	if f := readFrame(t, c); f["type"] != "pong" || f["id"] != "p3" {
		t.Errorf("ping answered %v", f)
	}
}

func TestIntentErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		do       func(ctx context.Context, in session.Intent) error
		wantCode string
	}{
		{"refused", func(context.Context, session.Intent) error {
			return &session.IntentError{Code: "wrong_screen", Message: "not on this screen"}
		}, "wrong_screen"},
		{"refused wrapped", func(context.Context, session.Intent) error {
			return wrapAsMachine(&session.IntentError{Code: "bad_data", Message: "lang must be vi or en"})
		}, "bad_data"},
		{"machine stopped", func(context.Context, session.Intent) error { return session.ErrClosed }, "unavailable"},
		{"timed out", func(ctx context.Context, _ session.Intent) error {
			<-ctx.Done()
			return ctx.Err()
		}, "unavailable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs := newFakeSession()
			fs.do = tc.do
			s := startServer(t, Options{Session: fs}, func(s *Server) { s.intentTimeout = 100 * time.Millisecond })
			c, _ := connect(t, s)
			send(t, c, `{"type":"intent","id":"x-1","name":"set_language","data":{"lang":"fr"}}`)
			f := readUntil(t, c, "error")
			if f["code"] != tc.wantCode || f["id"] != "x-1" || f["message"] == "" {
				t.Errorf("error frame %v, want code %s id x-1", f, tc.wantCode)
			}
			send(t, c, `{"type":"ping","id":"alive"}`)
			if f := readUntil(t, c, "pong"); f["id"] != "alive" {
				t.Errorf("pong %v", f)
			}
		})
	}
}

// wrapAsMachine wraps err as a session machine might.
func wrapAsMachine(err error) error { return errors.Join(errors.New("intent"), err) }

func TestBadFramesKeepConnection(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{}, nil)
	c, _ := connect(t, s)
	big := `{"type":"intent","id":"big","name":"set_field","data":{"key":"x","value":"` + strings.Repeat("a", 100<<10) + `"}}`
	cases := []struct {
		name   string
		mt     int
		msg    string
		code   string
		wantID string
	}{
		{"oversized 100 KiB", websocket.TextMessage, big, "too_large", ""},
		{"just over 8 KiB", websocket.TextMessage, `{"type":"ping","id":"p"}` + strings.Repeat(" ", 8<<10), "too_large", ""},
		{"malformed JSON", websocket.TextMessage, `{"type":"intent",`, "bad_message", ""},
		{"not an object", websocket.TextMessage, `["intent"]`, "bad_message", ""},
		{"null", websocket.TextMessage, `null`, "bad_message", ""},
		{"two values", websocket.TextMessage, `{"type":"ping","id":"a"}{"type":"ping","id":"b"}`, "bad_message", ""},
		{"unknown type", websocket.TextMessage, `{"type":"subscribe","id":"u1"}`, "unknown_type", "u1"},
		{"unknown field", websocket.TextMessage, `{"type":"intent","id":"f1","name":"help","extra":1}`, "bad_message", ""},
		{"missing type", websocket.TextMessage, `{"id":"m1"}`, "bad_message", "m1"},
		{"intent without id", websocket.TextMessage, `{"type":"intent","name":"help"}`, "bad_message", ""},
		{"intent bad id", websocket.TextMessage, `{"type":"intent","id":"a b","name":"help"}`, "bad_message", ""},
		{"intent id too long", websocket.TextMessage, `{"type":"intent","id":"` + strings.Repeat("a", 33) + `","name":"help"}`, "bad_message", ""},
		{"intent without name", websocket.TextMessage, `{"type":"intent","id":"n1"}`, "bad_message", "n1"},
		{"data not an object", websocket.TextMessage, `{"type":"intent","id":"d1","name":"help","data":[1]}`, "bad_message", "d1"},
		{"binary frame", websocket.BinaryMessage, `{"type":"ping","id":"b1"}`, "bad_message", ""},
	}
	for i, tc := range cases {
		if err := c.WriteMessage(tc.mt, []byte(tc.msg)); err != nil {
			t.Fatalf("%s: write: %v", tc.name, err)
		}
		f := readUntil(t, c, "error")
		gotID, _ := f["id"].(string)
		if f["code"] != tc.code || gotID != tc.wantID {
			t.Errorf("%s: error frame %v, want code %s id %q", tc.name, f, tc.code, tc.wantID)
		}
		id := "ok" + strconv.Itoa(i)
		send(t, c, `{"type":"intent","id":"`+id+`","name":"help"}`)
		if f := readUntil(t, c, "ack"); f["id"] != id {
			t.Errorf("%s: then ack %v, want id %s", tc.name, f, id)
		}
		// Stay under the rate limit: this test is about frames, not floods.
		time.Sleep(60 * time.Millisecond)
	}
}

func TestRateLimitDropsButKeepsConnection(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{}, nil)
	c, _ := connect(t, s)
	var batch bytes.Buffer
	for i := range 100 {
		batch.Reset()
		batch.WriteString(`{"type":"ping","id":"f` + strconv.Itoa(i) + `"}`)
		if err := c.WriteMessage(websocket.TextMessage, batch.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond) // refill a few tokens
	send(t, c, `{"type":"ping","id":"final"}`)
	pongs, limited := 0, 0
	for {
		f := readFrame(t, c)
		if f["type"] == "pong" && f["id"] == "final" {
			break
		}
		switch {
		case f["type"] == "pong":
			pongs++
		case f["type"] == "error" && f["code"] == "rate_limited":
			limited++
			if _, has := f["id"]; has {
				t.Errorf("rate_limited carries an id: %v", f)
			}
		default:
			t.Fatalf("unexpected %v", f)
		}
	}
	if pongs < rateBurst || pongs >= 100 {
		t.Errorf("%d of 100 frames answered, want the burst of %d and a few more", pongs, rateBurst)
	}
	if limited != 1 {
		t.Errorf("%d rate_limited errors within a second, want 1", limited)
	}
}

func TestFloodClosesWith1008(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{}, nil)
	c, _ := connect(t, s)
	for i := range rateBurst + maxDrops + 50 {
		if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping","id":"f`+strconv.Itoa(i)+`"}`)); err != nil {
			break // the server may already have closed
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation {
			t.Fatalf("connection ended with %v, want close 1008", err)
		}
		return
	}
}

func TestSlowClientNeverBlocksSession(t *testing.T) {
	t.Parallel()
	t.Run("reads the latest state late", func(t *testing.T) {
		t.Parallel()
		fs := newFakeSession()
		s := startServer(t, Options{Session: fs}, nil)
		c, _ := connect(t, s)
		start := time.Now()
		var last uint64
		for range 10000 {
			last = fs.change(nil)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("10000 state changes took %v with a client not reading", d)
		}
		time.Sleep(200 * time.Millisecond)
		n := 0
		for {
			st := readState(t, c)
			n++
			if st.Seq == last {
				break
			}
		}
		if n > 5000 {
			t.Errorf("client received %d states for 10000 changes; want coalescing", n)
		}
	})
	t.Run("never reads: disconnected", func(t *testing.T) {
		t.Parallel()
		fs := newFakeSession()
		s := startServer(t, Options{Session: fs}, func(s *Server) { s.writeTimeout = 200 * time.Millisecond })
		c, _, err := dial(s, http.Header{"Origin": {originOf(s)}}, goodProtocols())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if tc, ok := c.NetConn().(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4 << 10)
		}
		waitFor(t, "the connection to register", 5*time.Second, func() bool { return s.connCount() == 1 })
		pad := strings.Repeat("x", 64<<10)
		deadline := time.Now().Add(20 * time.Second)
		changes := 0
		start := time.Now()
		for s.connCount() > 0 {
			if time.Now().After(deadline) {
				t.Fatal("a client that never reads was never disconnected")
			}
			changes++
			fs.change(func(st *session.State) {
				st.Error = &session.ErrorView{Code: "x", Message: session.Text{VI: pad + strconv.Itoa(changes)}}
			})
			time.Sleep(time.Millisecond)
		}
		if per := time.Since(start) / time.Duration(max(changes, 1)); per > 20*time.Millisecond {
			t.Errorf("a state change took %v on average", per)
		}
		waitFor(t, "the session watch to stop", 5*time.Second, func() bool { return fs.watcherCount() == 0 })
	})
}

func (s *Server) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func TestReconnectGetsCurrentState(t *testing.T) {
	t.Parallel()
	fs := newFakeSession()
	s := startServer(t, Options{Session: fs}, nil)
	c, _ := connect(t, s)
	fs.change(func(st *session.State) { st.Screen = session.ScreenCardKey })
	if st := readState(t, c); st.Screen != session.ScreenCardKey {
		t.Fatalf("state %+v", st)
	}
	_ = c.Close()
	waitFor(t, "the old connection to end", 5*time.Second, func() bool { return s.connCount() == 0 })
	want := fs.change(func(st *session.State) {
		st.Screen = session.ScreenReading
		st.Reading = &session.ReadingView{Step: "read", Percent: 40}
	})
	c2, st := connect(t, s)
	defer c2.Close()
	if st.Seq != want || st.Screen != session.ScreenReading || st.Reading == nil || st.Reading.Percent != 40 {
		t.Errorf("first state after reconnect = %+v, want seq %d on reading", st, want)
	}
}

func TestHeartbeat(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{}, func(s *Server) {
		s.pingInterval = 50 * time.Millisecond
		s.readTimeout = 300 * time.Millisecond
	})
	alive, _ := connect(t, s)  // reads, so it answers the server's pings
	silent, _ := connect(t, s) // never reads, so never answers
	_ = alive.SetReadDeadline(time.Now().Add(time.Second))
	for {
		_, _, err := alive.ReadMessage()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			break // a second passed with the connection open
		}
		if err != nil {
			t.Fatalf("a client answering pings was closed: %v", err)
		}
	}
	_ = silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := silent.ReadMessage(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("a silent client was not closed")
			}
			break
		}
	}
	waitFor(t, "the silent connection to end", 5*time.Second, func() bool { return s.connCount() == 1 })
}

func TestStopClosesWith1001(t *testing.T) {
	t.Parallel()
	s := New(Options{Addr: "127.0.0.1:0", Secret: testSecret, Session: newFakeSession()})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, _ := connect(t, s)
	errc := make(chan error, 1)
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				errc <- err
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Stop took %v", d)
	}
	err := <-errc
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Errorf("client saw %v, want close 1001", err)
	}
	if _, resp, err := dial(s, http.Header{"Origin": {originOf(s)}}, goodProtocols()); err == nil {
		t.Errorf("dial after Stop succeeded: %v", resp.Status)
	}
}

func TestFrameOverHardLimitCloses1009(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{}, nil)
	c, _ := connect(t, s)
	_ = c.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte(" "), hardMaxFrame+1))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
			t.Fatalf("connection ended with %v, want close 1009", err)
		}
		return
	}
}
