package selftest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/backend"
)

// Pinger reaches the backend (*backend.Client).
type Pinger interface {
	// Ping makes one request that changes nothing and returns the backend's
	// clock from its Date header (zero when it sent none).
	Ping(ctx context.Context) (time.Time, error)
}

// Clock skew limits. Past SkewFail TLS and certificate validity break (and
// receipts carry a wrong time); past SkewWarn NTP is not doing its job.
const (
	SkewWarn = 2 * time.Minute
	SkewFail = 10 * time.Minute
)

// CheckBackend returns two checks sharing one ping: the backend's
// reachability over mutual TLS, and the local clock against the backend's.
// p nil means the configuration has no backend. now is the local clock
// (time.Now when nil).
func CheckBackend(p Pinger, now func() time.Time) (reach, clock Check) {
	if now == nil {
		now = time.Now
	}
	if p == nil {
		return Check{Name: NameBackend, Run: func(context.Context) Result {
				return fail("no backend configured (backend.url): the kiosk takes no filings",
					"set backend.url, ca_file, cert_file and key_file; kioskctl provision writes them")
			}}, Check{Name: NameClock, Run: func(context.Context) Result {
				return warn("not compared: no backend configured", "make sure NTP runs: timedatectl")
			}}
	}
	type ping struct {
		server, sent, got time.Time
		err               error
	}
	var once sync.Once
	var res ping
	do := func(ctx context.Context) ping {
		once.Do(func() {
			res.sent = now()
			res.server, res.err = p.Ping(ctx)
			res.got = now()
		})
		return res
	}
	reach = Check{Name: NameBackend, Run: func(ctx context.Context) Result {
		r := do(ctx)
		if r.err != nil {
			reason, hint := explainPing(r.err)
			return fail(reason, hint)
		}
		return ok(fmt.Sprintf("reachable over mutual TLS (%d ms)", r.got.Sub(r.sent).Milliseconds()))
	}}
	clock = Check{Name: NameClock, Run: func(ctx context.Context) Result {
		r := do(ctx)
		switch {
		case r.err != nil && certTimeError(r.err):
			return warn("not compared: the backend was not reached, and TLS says a certificate is expired or not yet valid, which a wrong clock causes",
				"check the time: timedatectl; turn NTP on with timedatectl set-ntp true")
		case r.err != nil:
			return warn("not compared: the backend was not reached", "make sure NTP runs: timedatectl")
		case r.server.IsZero():
			return warn("not compared: the backend's answer has no Date header", "make sure NTP runs: timedatectl")
		}
		// Date has whole seconds, truncated: the server's time was half a
		// second later on average, and the answer left it halfway through
		// the round trip.
		local := r.sent.Add(r.got.Sub(r.sent) / 2)
		skew := r.server.Add(500 * time.Millisecond).Sub(local)
		abs := skew.Abs().Round(time.Second)
		way := "ahead of"
		if skew > 0 {
			way = "behind"
		}
		const hint = "set the time: timedatectl set-ntp true, and check the kiosk reaches its NTP server"
		switch {
		case skew.Abs() > SkewFail:
			return fail(fmt.Sprintf("the clock is %s %s the backend's; TLS and certificate validity break", abs, way), hint)
		case skew.Abs() > SkewWarn:
			return warn(fmt.Sprintf("the clock is %s %s the backend's", abs, way), hint)
		}
		return ok(fmt.Sprintf("within %s of the backend's clock", max(abs, time.Second)))
	}}
	return reach, clock
}

// explainPing turns a failed ping into a reason and a hint.
func explainPing(err error) (reason, hint string) {
	var (
		unknownCA x509.UnknownAuthorityError
		invalid   x509.CertificateInvalidError
		hostname  x509.HostnameError
		verify    *tls.CertificateVerificationError
		alert     tls.AlertError
		dns       *net.DNSError
		ne        net.Error
	)
	switch {
	case errors.Is(err, backend.ErrRefused):
		return "the backend refused the kiosk's client certificate (" + err.Error() + ")",
			"provision the kiosk again: kioskctl provision"
	case errors.As(err, &alert), isRemoteTLSAlert(err):
		return "the backend refused the TLS handshake: " + err.Error(),
			"the backend does not accept the kiosk's client certificate; provision the kiosk again: kioskctl provision"
	case errors.As(err, &invalid) && (invalid.Reason == x509.Expired):
		return "the backend's certificate is expired or not yet valid: " + err.Error(),
			"check the clock first (timedatectl), then the backend's certificate"
	case errors.As(err, &hostname):
		return "the backend's certificate is not for this host name: " + err.Error(), "check backend.url"
	case errors.As(err, &unknownCA), errors.As(err, &verify):
		return "the backend's certificate does not chain to the pinned CA: " + err.Error(),
			"check backend.ca_file against the backend's CA"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "the backend refused the connection: " + err.Error(), "is the backend up? check backend.url"
	case errors.As(err, &dns):
		return "the backend's host name does not resolve: " + err.Error(), "check DNS and backend.url"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "no answer from the backend in time: " + err.Error(), "check the network path and the firewall to the backend"
	}
	return "the backend was not reached: " + err.Error(), "check the network to the backend and backend.url"
}

// isRemoteTLSAlert reports a TLS alert the server sent, which Go surfaces as
// an OpError around an unexported alert type ("remote error: tls: ...").
func isRemoteTLSAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}

// certTimeError reports a TLS failure because a certificate is outside its
// validity at the local time.
func certTimeError(err error) bool {
	var invalid x509.CertificateInvalidError
	return errors.As(err, &invalid) && invalid.Reason == x509.Expired
}
