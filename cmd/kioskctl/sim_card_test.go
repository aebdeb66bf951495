package main

import (
	"bufio"
	"context"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/devices/idcard/passiveauth"
	"github.com/vnkiosk/kiosk/devices/idcard/pcsc/pcsctest"
)

// TestSimCard runs `kioskctl sim card` as a technician would and reads the card
// it inserts; Ctrl+C (context cancel) removes it.
func TestSimCard(t *testing.T) {
	s := pcsctest.AcquireAny(t)
	pcsctest.WaitEmpty(t, s.Reader)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr strings.Builder
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"sim", "card", "--sample", "tran-thi-mai", "--vpcd", s.Addr,
			"--pki", filepath.Join(t.TempDir(), "pki"), "--aa", "ecdsa"}, pw, &stderr)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatalf("sim card printed nothing; stderr %q", stderr.String())
	}
	m := regexp.MustCompile(`CAN (\d{6}); give the reader the CSCA trust dir (\S+);`).FindStringSubmatch(lines.Text())
	if m == nil {
		t.Fatalf("first line %q", lines.Text())
	}
	trust, err := passiveauth.LoadTrustStore(m[2])
	if err != nil {
		t.Fatal(err)
	}
	key, _ := idcard.KeyFromCAN(m[1])
	doc, _, err := idcard.ReadFromReader(ctx, s.Reader, key, idcard.Options{Trust: trust, NoPhoto: true}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if doc.FullName == nil || *doc.FullName != "Trần Thị Mai" || doc.Verification.Passive.State != "valid" {
		t.Errorf("read %v, passive %s", doc.FullName, doc.Verification.Passive.State)
	}
	cancel()
	var rest strings.Builder
	for lines.Scan() {
		rest.WriteString(lines.Text())
	}
	if code := <-done; code != 0 || !strings.Contains(rest.String(), "card removed") {
		t.Errorf("exit %d, output %q, stderr %q", code, rest.String(), stderr.String())
	}
}

func TestSimCardUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"sim", "card", "--profile", "a.json", "--sample", "x"},
		{"sim", "card", "--fault", "explode"},
		{"sim", "card", "--aa", "dsa"},
		{"sim", "card", "--pki-flavour", "md5"},
	} {
		if code, _, _ := run(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
