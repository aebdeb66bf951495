package printer

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/printer/escpos"
	"github.com/vnkiosk/kiosk/devices/printer/printersim"
)

// scriptedPrinter answers over TCP like a printer whose cutter jams on the
// first ticket: DLE EOT answers are healthy until a ticket has been fenced,
// then report a cutter error for the next faultyAnswers requests. It counts
// the tickets it received (each ends with the GS V cut and the GS r fence).
type scriptedPrinter struct {
	addr          string
	tickets       atomic.Int32
	faultyAnswers int
}

func startScripted(t *testing.T, faultyAnswers int) *scriptedPrinter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sp := &scriptedPrinter{addr: "tcp://" + ln.Addr().String(), faultyAnswers: faultyAnswers}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			sp.serve(c)
			c.Close()
		}
	}()
	return sp
}

func (sp *scriptedPrinter) serve(c net.Conn) {
	r := bufio.NewReader(c)
	end := []byte{escpos.GS, 'V', 66, 0, escpos.GS, 'r', 1}
	var job []byte
	faulty := 0
	for {
		b, err := r.ReadByte()
		if err != nil {
			return
		}
		if b == escpos.DLE && len(job) == 0 {
			hdr := make([]byte, 2)
			if _, err := r.Read(hdr[:1]); err != nil {
				return
			}
			if hdr[0] == escpos.EOT {
				n, _ := r.ReadByte()
				st := escpos.Status{}
				if faulty > 0 {
					faulty--
					st = printersim.CutterError.Status()
				}
				c.Write([]byte{st.Answer(escpos.StatusKind(n))})
				continue
			}
			job = append(job, b, hdr[0])
			continue
		}
		job = append(job, b)
		if bytes.HasSuffix(job, end) {
			sp.tickets.Add(1)
			c.Write([]byte{0x00}) // GS r 1: paper present
			if sp.tickets.Load() == 1 {
				faulty = sp.faultyAnswers
			}
			job = job[:0]
		}
	}
}

// An error reported right after a ticket (here the cutter) keeps the job: it
// prints again once the error is cleared, and only then leaves the spool.
func TestErrorAfterPrintingRetries(t *testing.T) {
	t.Parallel()
	sp := startScripted(t, 8) // two full status reads
	dir := t.TempDir()
	p := newPrinter(t, Options{URI: sp.addr, SpoolDir: dir})
	ev, cancel := p.Events()
	defer cancel()
	id, err := p.Submit(context.Background(), ticket(t, "Hồ Thị Ẵm", "MAHOSO-JAM"))
	if err != nil {
		t.Fatal(err)
	}
	if e := waitEvent(t, ev, EventJobRetry, 5*time.Second); e.JobID != id || e.Reason != "cutter error" || e.Notice != NoticeReprint {
		t.Errorf("retry event %+v", e)
	}
	if len(spooled(t, dir)) != 1 {
		t.Error("job left the spool after a cutter error")
	}
	if e := waitEvent(t, ev, EventJobPrinted, 5*time.Second); e.JobID != id {
		t.Errorf("printed %q", e.JobID)
	}
	if n := sp.tickets.Load(); n != 2 {
		t.Errorf("printer received %d tickets, want 2 (original and reprint)", n)
	}
	if len(spooled(t, dir)) != 0 {
		t.Error("spool not emptied after the reprint")
	}
}
