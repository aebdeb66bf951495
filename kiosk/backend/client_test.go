package backend_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/backend"
	"github.com/vnkiosk/kiosk/kiosk/backend/refbackend"
	"github.com/vnkiosk/kiosk/kiosk/outbox"
)

// startBackend runs a refbackend with its own fresh CA on 127.0.0.1.
func startBackend(t testing.TB, opt refbackend.Options) (*refbackend.Server, *refbackend.PKI) {
	t.Helper()
	pki, err := refbackend.EnsurePKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if opt.Seed == 0 {
		opt.Seed = 1
	}
	srv, err := refbackend.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Start("127.0.0.1:0", pki); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, pki
}

// newClient is a client with the kiosk certificate of certs trusting the CA of ca.
func newClient(t testing.TB, url string, certs, ca *refbackend.PKI, timeout time.Duration) *backend.Client {
	t.Helper()
	c, err := backend.New(backend.Config{
		BaseURL:  url,
		CertFile: certs.Path(refbackend.KioskCertFile), KeyFile: certs.Path(refbackend.KioskKeyFile),
		CAFile:  ca.Path(refbackend.CAFile),
		Timeout: timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func delivery(n int, key string) outbox.Delivery {
	return outbox.Delivery{
		OutboxID: int64(n), IdempotencyKey: key, Attempt: 1,
		Filing: outbox.Filing{
			MaHoSo: fmt.Sprintf("000.00.01.H01-260101-%04d", n), ProcedureCode: "1.001193",
			CreatedAt: time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC),
			Body:      fmt.Appendf(nil, `{"ChuHoSo":"Nguyễn Văn An","n":%d}`, n),
			Attachments: []outbox.Attachment{
				{Name: "trang-1.jpg", ContentType: "image/jpeg", Data: []byte{0xff, 0xd8, 0xff, byte(n), 0, 1, 2}},
			},
		},
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func reason(err error) string {
	var fe *outbox.ForwardError
	if errors.As(err, &fe) {
		return fe.Reason
	}
	return ""
}

func TestMutualTLS(t *testing.T) {
	srv, pki := startBackend(t, refbackend.Options{})
	other, err := refbackend.EnsurePKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	t.Run("good certificates", func(t *testing.T) {
		if err := newClient(t, srv.URL(), pki, pki, 5*time.Second).Forward(ctx, delivery(1, "k-good")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("no client certificate", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AddCert(loadCA(t, pki))
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		defer hc.CloseIdleConnections()
		// The listener asks for a certificate without requiring one (EST
		// enrolment shares it); the API refuses a request that has none.
		resp, err := hc.Get(srv.URL() + "/v1/filings/000.00.01.H01-260101-0001")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "certificate") {
			t.Errorf("without a client certificate: %s %s", resp.Status, body)
		}
	})
	t.Run("client certificate of another CA", func(t *testing.T) {
		c := newClient(t, srv.URL(), other, pki, 5*time.Second)
		err := c.Forward(ctx, delivery(2, "k-other-client"))
		if err == nil || outbox.IsPermanent(err) {
			t.Fatalf("forward with a foreign client certificate: %v", err)
		}
	})
	t.Run("server certificate of another CA", func(t *testing.T) {
		c := newClient(t, srv.URL(), pki, other, 5*time.Second)
		err := c.Forward(ctx, delivery(3, "k-other-server"))
		var ve *tls.CertificateVerificationError
		if !errors.As(err, &ve) || reason(err) != "TLS: server certificate not trusted" {
			t.Fatalf("forward to a server of another CA: %v", err)
		}
	})
	got := srv.Filings()
	if len(got) != 1 || got[0].IdempotencyKey != "k-good" {
		t.Fatalf("stored %+v; want only the properly authenticated filing", got)
	}
}

func loadCA(t *testing.T, p *refbackend.PKI) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(p.Path(refbackend.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("CA file is not PEM")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStoreIdempotentUpsert(t *testing.T) {
	srv, pki := startBackend(t, refbackend.Options{})
	c := newClient(t, srv.URL(), pki, pki, 5*time.Second)
	ctx := context.Background()
	d := delivery(7, "key-7a")

	first, err := c.Submit(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	d.Attempt = 2
	again, err := c.Submit(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if first != again || first.MaHoSo != d.Filing.MaHoSo || first.ReceivedAt.IsZero() {
		t.Fatalf("retry answered %+v, first %+v", again, first)
	}
	want := []refbackend.SimFiling{{MaHoSo: d.Filing.MaHoSo, IdempotencyKey: "key-7a", SHA256: sha(d.Filing.Body), Deliveries: 2}}
	if got := srv.Filings(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after a retry: %+v, want %+v", got, want)
	}

	// The same key with other content is a conflict: permanent.
	bad := delivery(7, "key-7a")
	bad.Filing.Body = []byte(`{"ChuHoSo":"someone else"}`)
	if err := c.Forward(ctx, bad); !outbox.IsPermanent(err) || reason(err) != "HTTP 409: conflict" {
		t.Fatalf("same key, other content: %v", err)
	}

	// A new key for the same MaHoSo is an upsert: still one dossier.
	upd := delivery(7, "key-7b")
	upd.Filing.Body = []byte(`{"ChuHoSo":"Nguyễn Văn An","sửa":true}`)
	if err := c.Forward(ctx, upd); err != nil {
		t.Fatal(err)
	}
	want = []refbackend.SimFiling{{MaHoSo: d.Filing.MaHoSo, IdempotencyKey: "key-7b", SHA256: sha(upd.Filing.Body), Deliveries: 3}}
	if got := srv.Filings(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after an upsert: %+v, want %+v", got, want)
	}
}

func TestStatus(t *testing.T) {
	srv, pki := startBackend(t, refbackend.Options{})
	c := newClient(t, srv.URL(), pki, pki, 5*time.Second)
	ctx := context.Background()
	d := delivery(3, "key-3")
	if err := c.Forward(ctx, d); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(ctx, d.Filing.MaHoSo)
	if err != nil || st.TrangThaiHoSo != 1 || st.Label != "Mới tiếp nhận" {
		t.Fatalf("status of a new dossier: %+v, %v", st, err)
	}
	if err := srv.SetStatus(d.Filing.MaHoSo, 10); err != nil {
		t.Fatal(err)
	}
	st, err = c.Status(ctx, d.Filing.MaHoSo)
	if err != nil || st.TrangThaiHoSo != 10 || st.Label != "Đã trả kết quả" {
		t.Fatalf("status after it changed: %+v, %v", st, err)
	}
	if _, err := c.Status(ctx, "000.00.01.H01-260101-9999"); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("unknown dossier: %v", err)
	}
}

func TestWaitPayment(t *testing.T) {
	srv, pki := startBackend(t, refbackend.Options{})
	c := newClient(t, srv.URL(), pki, pki, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Long-poll: the first poll is held open (wait=30s) and answered on payment.
	began := time.Now()
	type result struct {
		p   backend.Payment
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := c.WaitPayment(ctx, "QR-0001")
		done <- result{p, err}
	}()
	time.Sleep(200 * time.Millisecond)
	select {
	case r := <-done:
		t.Fatalf("returned before the payment: %+v", r)
	default:
	}
	srv.Pay("QR-0001")
	r := <-done
	if r.err != nil || r.p.Status != backend.PaymentPaid || r.p.PaidAt.IsZero() {
		t.Fatalf("after paying: %+v, %v", r.p, r.err)
	}
	if el := time.Since(began); el < 200*time.Millisecond || el > 3*time.Second {
		t.Fatalf("long-poll answered after %v", el)
	}
}

func TestPaymentExpires(t *testing.T) {
	srv, pki := startBackend(t, refbackend.Options{PaymentTTL: 300 * time.Millisecond})
	c := newClient(t, srv.URL(), pki, pki, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := c.WaitPayment(ctx, "QR-0002")
	if err != nil || p.Status != backend.PaymentExpired || !p.PaidAt.IsZero() {
		t.Fatalf("unpaid payment: %+v, %v", p, err)
	}
}

func TestAutoPay(t *testing.T) {
	srv, pki := startBackend(t, refbackend.Options{AutoPay: 300 * time.Millisecond})
	c := newClient(t, srv.URL(), pki, pki, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := c.WaitPayment(ctx, "QR-auto")
	if err != nil || p.Status != backend.PaymentPaid {
		t.Fatalf("auto-pay: %+v, %v", p, err)
	}
}

func TestClassification(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		opt       refbackend.Options
		timeout   time.Duration
		body      string
		permanent bool
		reason    string
	}{
		{"validation", refbackend.Options{}, 5 * time.Second, `["not","an","object"]`, true, "HTTP 400: validation"},
		{"server error", refbackend.Options{ErrorRate: 1}, 5 * time.Second, "", false, "HTTP 500: internal"},
		{"dropped connection", refbackend.Options{DropRate: 1}, 5 * time.Second, "", false, "network"},
		{"timeout", refbackend.Options{Latency: 2 * time.Second}, 300 * time.Millisecond, "", false, "timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, pki := startBackend(t, tc.opt)
			c := newClient(t, srv.URL(), pki, pki, tc.timeout)
			d := delivery(1, "key-"+strings.ReplaceAll(tc.name, " ", "-"))
			if tc.body != "" {
				d.Filing.Body = []byte(tc.body)
			}
			err := c.Forward(ctx, d)
			var fe *outbox.ForwardError
			if !errors.As(err, &fe) || fe.Permanent != tc.permanent || fe.Reason != tc.reason {
				t.Fatalf("got %v; want permanent=%v reason %q", err, tc.permanent, tc.reason)
			}
		})
	}
}

// TestFaultRates sends 600 sequential lookups: the injected 500s and drops come
// close to their rates, and the same seed injects the same faults.
func TestFaultRates(t *testing.T) {
	run := func(seed uint64) (string, refbackend.FaultCounts) {
		srv, pki := startBackend(t, refbackend.Options{ErrorRate: 0.3, DropRate: 0.1, Seed: seed})
		c := newClient(t, srv.URL(), pki, pki, 5*time.Second)
		var outcomes strings.Builder
		for range 600 {
			_, err := c.Status(context.Background(), "000.00.01.H01-260101-0001")
			switch {
			case errors.Is(err, backend.ErrNotFound):
				outcomes.WriteByte('.')
			case reason(errors.Unwrap(err)) == "HTTP 500: internal":
				outcomes.WriteByte('E')
			default:
				outcomes.WriteByte('D')
			}
		}
		return outcomes.String(), srv.Faults()
	}
	a, fa := run(42)
	b, fb := run(42)
	c, _ := run(43)
	if a != b || fa != fb {
		t.Errorf("same seed, different faults:\n%s\n%s", a, b)
	}
	if a == c {
		t.Errorf("different seeds, same faults")
	}
	er, dr := float64(fa.Errors)/float64(fa.Requests), float64(fa.Drops)/float64(fa.Requests)
	if er < 0.24 || er > 0.36 || dr < 0.06 || dr > 0.14 {
		t.Errorf("rates: errors %.3f (want 0.3), drops %.3f (want 0.1) over %d requests", er, dr, fa.Requests)
	}
	if n := strings.Count(a, "E"); n != fa.Errors {
		t.Errorf("client saw %d 500s, server injected %d", n, fa.Errors)
	}
}

func TestRefbackendRejectsBadOptions(t *testing.T) {
	for _, o := range []refbackend.Options{{ErrorRate: -0.1}, {DropRate: 1.5}, {ErrorRate: 0.6, DropRate: 0.6}, {Latency: time.Hour}} {
		if _, err := refbackend.New(o); err == nil {
			t.Errorf("accepted %+v", o)
		}
	}
}

// TestConcurrentForwards checks the store under concurrent deliveries of the
// same keys: every key stored once, every delivery counted.
func TestConcurrentForwards(t *testing.T) {
	srv, pki := startBackend(t, refbackend.Options{})
	c := newClient(t, srv.URL(), pki, pki, 5*time.Second)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			if err := c.Forward(context.Background(), delivery(i%10, fmt.Sprintf("key-%d", i%10))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got := srv.Filings()
	if len(got) != 10 {
		t.Fatalf("%d dossiers stored, want 10", len(got))
	}
	for _, f := range got {
		if f.Deliveries != 4 {
			t.Errorf("%s: %d deliveries, want 4", f.MaHoSo, f.Deliveries)
		}
	}
}

// TestClientCertificateReload: a renewed certificate written over the files is
// used from the next handshake, without restarting the client.
func TestClientCertificateReload(t *testing.T) {
	t.Parallel()
	pki, err := refbackend.EnsurePKI(filepath.Join(t.TempDir(), "tls"))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := pki.Path(refbackend.KioskCertFile), pki.Path(refbackend.KioskKeyFile)
	tc, err := backend.LoadTLSConfig(certFile, keyFile, pki.Path(refbackend.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	serial := func() string {
		c, err := tc.GetClientCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf.SerialNumber.String()
	}
	before := serial()
	if serial() != before {
		t.Fatal("the certificate changed without a new file")
	}
	if err := pki.IssueKiosk(refbackend.KioskCertFile, refbackend.KioskKeyFile, "KIOSK-RENEWED"); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Second)
	if err := os.Chtimes(certFile, later, later); err != nil {
		t.Fatal(err)
	}
	if serial() == before {
		t.Error("the renewed certificate was not picked up")
	}
}
