// Package logging owns the daemon's structured log: log/slog JSON on stderr (journald
// keeps it under systemd) behind a redaction layer, so that no ID number, name,
// photo, credential or credential-carrying URL reaches a log line even when a caller
// slips. Redaction is by key (attributes named like personal data or secrets are
// replaced whole) and by content (12- and 9-digit ID numbers, URL queries and
// key=value secrets inside any string, error text included). Code that needs to
// correlate a citizen across log lines logs IDHash, a keyed hash, never the number.
package logging

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
)

// Redacted replaces whatever was removed.
const Redacted = "[redacted]"

// New returns a JSON logger on w at the given level with redaction.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: redactAttr})
	return slog.New(&redactingHandler{next: h})
}

// ParseLevel turns a config level name into a slog.Level.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q: %w", s, err)
	}
	return l, nil
}

// IDHash returns a keyed hash of an ID number for log correlation: without the key
// it cannot be reversed by trying the 10^12 possible numbers.
func IDHash(key []byte, id string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	return "idh:" + hex.EncodeToString(m.Sum(nil)[:8])
}

// sensitiveKeys are attribute keys whose values are never logged, compared after
// lower-casing and removing '_' and '-'.
var sensitiveKeys = map[string]bool{}

func init() {
	for _, k := range []string{
		"name", "full_name", "fullname", "hoten", "ho_ten", "hoTenCb", "father_name", "mother_name", "spouse_name",
		"id", "id_number", "idnumber", "cccd", "cccdCb", "cmnd", "old_id_number", "maThe", "card_number", "so_cccd",
		"can", "mrz", "pin", "password", "passwd", "pass", "token", "id_token", "access_token", "api_key", "apikey",
		"secret", "authorization", "cookie", "key", "private_key",
		"photo", "face", "image", "dg2", "dg1", "dg13",
		"dob", "date_of_birth", "ngaySinh", "address", "place_of_residence", "place_of_origin", "phone", "diaChi",
		"url", "query", "qr", "payload",
	} {
		sensitiveKeys[normKey(k)] = true
	}
}

func normKey(k string) string {
	return strings.ToLower(strings.NewReplacer("_", "", "-", "", ".", "").Replace(k))
}

var (
	// A URL's query and fragment carry tokens in this domain (the insurance gateway
	// puts username and password there).
	urlRE = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://[^\s?#"']*)[?#][^\s"']*`)
	// key=value or key: value secrets inside free text.
	secretKVRE = regexp.MustCompile(`(?i)\b(password|passwd|pwd|token|id_token|access_token|apikey|api_key|secret|can|pin|cccdcb|cccd)(\s*[=:]\s*)("[^"]*"|[^\s&,;"]+)`)
	// ID numbers: 12-digit CCCD and 9-digit CMND, standing as words of their
	// own. Digits inside a longer token of letters and digits (a hex key, a
	// hash, a MaHoSo part) are not an ID number and are left alone.
	idRE = regexp.MustCompile(`(^|[^0-9A-Za-z])([0-9]{12}|[0-9]{9})([^0-9A-Za-z]|$)`)
)

// Scrub removes ID numbers, URL queries and key=value secrets from free text.
func Scrub(s string) string {
	s = urlRE.ReplaceAllString(s, "${1}?"+Redacted)
	s = secretKVRE.ReplaceAllString(s, "${1}${2}"+Redacted)
	// Applied twice because adjacent IDs share a separator the first pass consumed.
	for range 2 {
		s = idRE.ReplaceAllString(s, "${1}"+Redacted+"${3}")
	}
	return s
}

func redactAttr(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.MessageKey || a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.SourceKey {
		if a.Key == slog.MessageKey {
			a.Value = slog.StringValue(Scrub(a.Value.String()))
		}
		return a
	}
	if sensitiveKeys[normKey(a.Key)] {
		return slog.String(a.Key, Redacted)
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Scrub(v.String()))
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, Scrub(x.Error()))
		case []byte:
			return slog.String(a.Key, fmt.Sprintf("[%d bytes]", len(x)))
		default:
			// Arbitrary values (a struct, a Stringer) may hold anything, a document
			// read from the card included; only values that chose a log form through
			// slog.LogValuer, or errors, are written.
			return slog.String(a.Key, fmt.Sprintf("%s %T", Redacted, x))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// redactingHandler applies the same rules to attributes bound with With, which
// slog.HandlerOptions.ReplaceAttr already covers, and to group names, which it
// does not: a group key such as "citizen" is fine, but its members are checked.
type redactingHandler struct{ next slog.Handler }

func (h *redactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactDeep(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *redactingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	rs := make([]slog.Attr, len(as))
	for i, a := range as {
		rs[i] = redactDeep(a)
	}
	return &redactingHandler{next: h.next.WithAttrs(rs)}
}

func (h *redactingHandler) WithGroup(name string) slog.Handler {
	return &redactingHandler{next: h.next.WithGroup(name)}
}

func redactDeep(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	if v.Kind() != slog.KindGroup {
		return redactAttr(nil, slog.Attr{Key: a.Key, Value: v})
	}
	if sensitiveKeys[normKey(a.Key)] {
		return slog.String(a.Key, Redacted)
	}
	g := v.Group()
	rs := make([]any, len(g))
	for i, m := range g {
		rs[i] = redactDeep(m)
	}
	return slog.Group(a.Key, rs...)
}
