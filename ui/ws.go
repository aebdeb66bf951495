package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/vnkiosk/kiosk/kiosk/session"
)

var upgrader = websocket.Upgrader{
	HandshakeTimeout: 5 * time.Second,
	Subprotocols:     []string{subprotocol}, // the key is offered too but never echoed
	// Origin was checked exactly before the upgrade; gorilla's own check would
	// only repeat a weaker one.
	CheckOrigin: func(*http.Request) bool { return true },
}

// serveWS admits a websocket in the protocol's order (Host, Origin, secret) and
// then runs the connection until it ends.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	// The Host check ran in secure().
	origin := r.Header.Get("Origin")
	if origin == "" {
		s.refuse(w, r, http.StatusForbidden, "missing Origin")
		return
	}
	if !s.allowedOrigin(r, origin) {
		s.refuse(w, r, http.StatusForbidden, "foreign Origin")
		return
	}
	if reason := s.checkProtocols(websocket.Subprotocols(r)); reason != "" {
		s.refuse(w, r, http.StatusUnauthorized, reason)
		return
	}
	if s.opt.Session == nil {
		http.Error(w, "no session", http.StatusServiceUnavailable)
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.log.Warn("ui: websocket upgrade failed", "err", err)
		return // Upgrade has answered the client
	}
	c := s.newConn(ws)
	if !s.register(c) {
		c.closeWith(closeGoingAway, "server shutting down")
		c.abortAfter(s.closeGrace)
		return
	}
	defer s.connWG.Done()
	c.run()
}

// checkProtocols returns why the offered subprotocols do not admit the client,
// or "" when they do: kiosk.v1 and exactly one kiosk.key.<secret>.
func (s *Server) checkProtocols(offered []string) string {
	v1 := false
	var keys []string
	for _, p := range offered {
		switch {
		case p == subprotocol:
			v1 = true
		case strings.HasPrefix(p, keyProtocol):
			keys = append(keys, strings.TrimPrefix(p, keyProtocol))
		}
	}
	switch {
	case !v1:
		return "subprotocol kiosk.v1 not offered"
	case len(keys) == 0:
		return "no key offered"
	case len(keys) > 1:
		return "more than one key offered"
	case !keyMatches(keys[0], s.opt.Secret):
		return "wrong key"
	}
	return ""
}

// refuse answers a refused admission and logs why, never with the key or the
// query string.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, status int, reason string) {
	s.log.Warn("ui: websocket refused", "status", status, "reason", reason, "remote", r.RemoteAddr)
	http.Error(w, http.StatusText(status), status)
}

func (s *Server) register(c *wsConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false
	}
	s.conns[c] = struct{}{}
	s.connWG.Add(1)
	return true
}

func (s *Server) unregister(c *wsConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// wsConn is one screen connection. The reader (run) decodes frames and calls
// the session; the writer sends hello, states, queued control frames and pings.
// The session is never blocked: state changes reach the writer as coalesced
// signals and every other frame goes through a bounded queue.
type wsConn struct {
	s          *Server
	ws         *websocket.Conn
	n          uint64
	log        *slog.Logger
	ctrl       chan []byte   // acks, errors, pongs
	done       chan struct{} // closed when the reader has finished
	writerGone chan struct{} // closed when the writer has finished

	deadline  sync.Mutex   // orders read-deadline changes against closeWith
	closing   atomic.Bool  // a close frame was sent; only the peer's reply is awaited
	closeOnce sync.Once    // the close frame is sent once
	reason    atomic.Value // string: why the connection ended, for the log
	started   time.Time
}

func (s *Server) newConn(ws *websocket.Conn) *wsConn {
	n := s.connSeq.Add(1)
	return &wsConn{
		s:          s,
		ws:         ws,
		n:          n,
		log:        s.log.With("conn", n),
		ctrl:       make(chan []byte, ctrlQueue),
		done:       make(chan struct{}),
		writerGone: make(chan struct{}),
		started:    time.Now(),
	}
}

// setReason keeps the first reason the connection ended.
func (c *wsConn) setReason(r string) { c.reason.CompareAndSwap(nil, r) }

// abort tears the socket down; blocked reads and writes return at once.
func (c *wsConn) abort() {
	_ = c.ws.Close()
}

func (c *wsConn) abortAfter(d time.Duration) {
	time.AfterFunc(d, c.abort)
}

// closeWith starts the closing handshake: the close frame goes out, and the
// reader waits at most closeGrace for the peer's answer before tearing down.
func (c *wsConn) closeWith(code int, text string) {
	c.closeOnce.Do(func() {
		c.setReason(text)
		c.deadline.Lock()
		c.closing.Store(true)
		c.deadline.Unlock()
		msg := websocket.FormatCloseMessage(code, text)
		if err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.s.closeGrace)); err != nil {
			c.abort()
			return
		}
		c.deadline.Lock()
		_ = c.ws.SetReadDeadline(time.Now().Add(c.s.closeGrace))
		c.deadline.Unlock()
	})
}

// run serves the connection until it ends, then releases everything it holds.
func (c *wsConn) run() {
	c.log.Info("ui: screen connected", "remote", c.ws.RemoteAddr().String())
	changed, stopWatch := c.s.opt.Session.Watch()
	go func() {
		defer close(c.writerGone)
		c.writeLoop(changed)
	}()
	c.readLoop()
	close(c.done)
	<-c.writerGone
	stopWatch()
	c.abort()
	c.s.unregister(c)
	reason, _ := c.reason.Load().(string)
	c.log.Info("ui: screen disconnected", "reason", reason, "after", time.Since(c.started).Round(time.Millisecond).String())
}

// extendDeadline restarts the silence timer, except while closing, when the
// close grace alone bounds the wait.
func (c *wsConn) extendDeadline() {
	c.deadline.Lock()
	defer c.deadline.Unlock()
	if !c.closing.Load() {
		_ = c.ws.SetReadDeadline(time.Now().Add(c.s.readTimeout))
	}
}

// readLoop handles client frames until the connection fails or closes.
func (c *wsConn) readLoop() {
	c.ws.SetReadLimit(hardMaxFrame)
	c.extendDeadline()
	c.ws.SetPongHandler(func(string) error { c.extendDeadline(); return nil })
	c.ws.SetPingHandler(func(data string) error {
		c.extendDeadline()
		err := c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(c.s.writeTimeout))
		if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
			return err
		}
		return nil
	})
	bucket := newTokenBucket(rateLimit, rateBurst, time.Now())
	drops := newDropCounter(maxDrops, dropWindow)
	var lastRateErr time.Time
	for {
		mt, r, err := c.ws.NextReader()
		if err != nil {
			c.setReason(readEndReason(err))
			return
		}
		if c.closing.Load() {
			if _, err := io.Copy(io.Discard, r); err != nil {
				c.setReason(readEndReason(err))
				return
			}
			continue
		}
		c.extendDeadline()
		now := time.Now()
		if !bucket.allow(now) {
			if _, err := io.Copy(io.Discard, r); err != nil {
				c.setReason(readEndReason(err))
				return
			}
			if drops.add(now) {
				c.log.Warn("ui: screen connection flooding; closing")
				c.closeWith(closePolicyViolated, "rate limit exceeded")
				continue
			}
			if now.Sub(lastRateErr) >= rateErrPeriod {
				lastRateErr = now
				c.sendError("", codeRateLimited, "too many frames; this one was dropped")
			}
			continue
		}
		if mt != websocket.TextMessage {
			if _, err := io.Copy(io.Discard, r); err != nil {
				c.setReason(readEndReason(err))
				return
			}
			c.sendError("", codeBadMessage, "only text frames are accepted")
			continue
		}
		buf, err := io.ReadAll(io.LimitReader(r, maxFrame+1))
		if err != nil {
			c.setReason(readEndReason(err))
			return
		}
		if len(buf) > maxFrame {
			// Read the rest and forget it: memory stays bounded and the
			// connection lives on.
			if _, err := io.Copy(io.Discard, r); err != nil {
				c.setReason(readEndReason(err))
				return
			}
			c.sendError("", codeTooLarge, "frames are limited to 8 KiB")
			continue
		}
		c.handle(buf)
	}
}

func readEndReason(err error) string {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce):
		return "client closed"
	case errors.Is(err, websocket.ErrReadLimit):
		return "frame over 1 MiB"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "connection lost"
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return "silent for too long"
	}
	return "read failed"
}

// handle answers one decoded-size text frame.
func (c *wsConn) handle(buf []byte) {
	f, ferr := decodeClientFrame(buf)
	if ferr != nil {
		c.log.Debug("ui: bad client frame", "code", ferr.Code)
		c.sendError(ferr.ID, ferr.Code, ferr.Message)
		return
	}
	switch f.Type {
	case "ping":
		c.send(pongFrame{Type: "pong", ID: f.ID})
	case "intent":
		ctx, cancel := context.WithTimeout(context.Background(), c.s.intentTimeout)
		err := c.s.opt.Session.Do(ctx, session.Intent{Name: f.Name, Data: f.Data})
		cancel()
		if err == nil {
			c.send(ackFrame{Type: "ack", ID: f.ID})
			return
		}
		var ie *session.IntentError
		if errors.As(err, &ie) {
			// Not logged: the message may quote what the citizen typed.
			c.log.Debug("ui: intent refused", "intent", f.Name, "code", ie.Code)
			c.sendError(f.ID, ie.Code, ie.Message)
			return
		}
		c.log.Warn("ui: session could not take an intent", "intent", f.Name, "err", err)
		c.sendError(f.ID, codeUnavailable, "the session is not available; try again")
	}
}

type ackFrame struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type pongFrame struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
}

type errorFrame struct {
	Type    string `json:"type"`
	ID      string `json:"id,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

type helloFrame struct {
	Type        string `json:"type"`
	Protocol    int    `json:"protocol"`
	HeartbeatMS int64  `json:"heartbeat_ms"`
}

func (c *wsConn) sendError(id, code, msg string) {
	c.send(errorFrame{Type: "error", ID: id, Code: code, Message: msg})
}

// send queues a control frame for the writer. A healthy writer drains the
// queue in microseconds, so a full queue only waits; a queue still full after
// the write deadline means the client is not reading, and it is disconnected
// rather than buffered for. Only this connection's reader ever waits here.
func (c *wsConn) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		c.log.Error("ui: encode frame", "err", err)
		return
	}
	select {
	case c.ctrl <- b:
		return
	default:
	}
	t := time.NewTimer(c.s.writeTimeout)
	defer t.Stop()
	select {
	case c.ctrl <- b:
	case <-c.writerGone:
	case <-t.C:
		c.setReason("control queue full")
		c.log.Warn("ui: screen connection not reading; disconnecting")
		c.abort()
	}
}

// stateFrame wraps the session's current state; nil when there is none.
func (c *wsConn) stateFrame() []byte {
	st := c.s.opt.Session.State()
	if len(st) == 0 {
		return nil
	}
	b := make([]byte, 0, len(st)+32)
	b = append(b, `{"type":"state","state":`...)
	b = append(b, st...)
	return append(b, '}')
}

// writeLoop is the connection's only data writer.
func (c *wsConn) writeLoop(changed <-chan struct{}) {
	write := func(b []byte) error {
		if b == nil {
			return nil
		}
		_ = c.ws.SetWriteDeadline(time.Now().Add(c.s.writeTimeout))
		return c.ws.WriteMessage(websocket.TextMessage, b)
	}
	// A change signalled after the state was already fetched would send the same
	// state twice; the last frame sent is kept to skip that.
	var last []byte
	writeState := func() error {
		f := c.stateFrame()
		if f == nil || bytes.Equal(f, last) {
			return nil
		}
		last = f
		return write(f)
	}
	hello, _ := json.Marshal(helloFrame{Type: "hello", Protocol: protocolVersion, HeartbeatMS: c.s.pingInterval.Milliseconds()})
	err := write(hello)
	if err == nil {
		err = writeState()
	}
	ping := time.NewTicker(c.s.pingInterval)
	defer ping.Stop()
	for err == nil {
		select {
		case <-c.done:
			return
		case b := <-c.ctrl:
			err = write(b)
		case _, ok := <-changed:
			if !ok {
				changed = nil // the session stopped watching; keep serving control frames
				continue
			}
			err = writeState()
		case <-ping.C:
			err = c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.s.writeTimeout))
		}
	}
	if errors.Is(err, websocket.ErrCloseSent) {
		return // closing: the reader waits for the peer's answer
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		c.setReason("write timed out")
	} else {
		c.setReason("write failed")
	}
	c.abort()
}
