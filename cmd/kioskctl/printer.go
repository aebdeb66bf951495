package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/vnkiosk/kiosk/devices/printer"
	"github.com/vnkiosk/kiosk/devices/printer/layout"
	"github.com/vnkiosk/kiosk/devices/printer/printersim"
	"github.com/vnkiosk/kiosk/devices/printer/raster"
)

func init() {
	register("sim printer", "run a simulated ESC/POS receipt printer on TCP, writing each cut page to a PNG, until Ctrl+C", runSimPrinter)
	register("print test", "print a test ticket with Vietnamese text and a QR code: kioskctl print test --printer URI", runPrintTest)
	register("print status", "ask a receipt printer for its status (DLE EOT): kioskctl print status --printer URI", runPrintStatus)
}

func conditionNames() string {
	var s []string
	for _, c := range printersim.Conditions {
		s = append(s, string(c))
	}
	return strings.Join(s, "|")
}

func runSimPrinter(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sim printer", stderr)
	listen := fs.String("listen", "127.0.0.1:9100", "TCP address to listen on (port 0 picks a free one)")
	out := fs.String("out", "", "directory for the page PNGs (required)")
	status := fs.String("status", "ok", "initial condition: "+conditionNames())
	width := fs.Int("width", 80, "paper width in mm: 58 or 80")
	roll := fs.Int("roll", 0, "paper left on the roll in dot rows (8 per mm); it runs out mid-ticket; 0 is endless")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: kioskctl sim printer --out DIR [--listen ADDR] [--status %s] [--width 58|80]\n\n", conditionNames())
		fmt.Fprintf(stderr, "While it runs, type a line on standard input to change the printer's condition:\n"+
			"  status paper-end    the paper runs out (printing stops, DLE EOT reports it)\n"+
			"  status ok           paper loaded, cover closed, error cleared\n"+
			"  status CONDITION    any of %s\n  pages               how many pages were cut\n\n", conditionNames())
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usageError{"--out DIR is required"}
	}
	cond, err := printersim.ParseCondition(*status)
	if err != nil {
		return usageError{err.Error()}
	}
	w, ok := raster.WidthForMM(*width)
	if !ok {
		return usageError{"--width is 58 or 80"}
	}
	if *roll < 0 {
		return usageError{"--roll must not be negative"}
	}
	sim, err := printersim.New(printersim.Options{Width: w, OutDir: *out, Condition: cond, RollDots: *roll})
	if err != nil {
		return err
	}
	ln, err := printersim.Listen(*listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "printer simulator listening on tcp://%s (%d mm, %d dots, %s); pages go to %s; type 'status %s' to change its condition\n",
		ln.Addr(), *width, w, cond, *out, conditionNames())

	go readSimCommands(sim, os.Stdin, stdout, stderr)
	if err := sim.Serve(ctx, ln); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "printer simulator stopped after %d page(s)\n", sim.PageCount())
	return nil
}

// readSimCommands applies "status CONDITION" lines; at end of input the
// simulator keeps running (it may be started with stdin closed).
func readSimCommands(sim *printersim.Printer, in io.Reader, stdout, stderr io.Writer) {
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 0:
		case f[0] == "status" && len(f) == 2:
			c, err := printersim.ParseCondition(f[1])
			if err != nil {
				fmt.Fprintln(stderr, err)
				continue
			}
			sim.SetCondition(c)
			fmt.Fprintf(stdout, "condition %s\n", c)
		case f[0] == "pages" && len(f) == 1:
			fmt.Fprintf(stdout, "%d page(s)\n", sim.PageCount())
		default:
			fmt.Fprintf(stderr, "unknown command %q; expected 'status %s' or 'pages'\n", sc.Text(), conditionNames())
		}
	}
}

const (
	defaultTestText = "Kiểm tra máy in — Bộ phận tiếp nhận và trả kết quả. Chữ có dấu: ệ ẫ ặ ộ ừ ỵ Ơ Ư Đ."
	defaultTestQR   = "https://dichvucong.gov.vn"
)

// testPage is the ticket `print test` prints.
func testPage(text, qr string, widthMM, dots int, now time.Time) layout.Page {
	p, _ := layout.TestTicket{Text: text, QR: qr, WidthMM: widthMM, Dots: dots, At: now}.Page()
	return p
}

func runPrintTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("print test", stderr)
	uri := fs.String("printer", "", "printer URI: tcp://HOST:PORT or usb:/dev/usb/lpN (required)")
	text := fs.String("text", defaultTestText, "Vietnamese text to print")
	qr := fs.String("qr", defaultTestQR, "QR code payload (empty: no QR)")
	width := fs.Int("width", 80, "paper width in mm: 58 or 80")
	native := fs.Bool("native-qr", false, "let the printer draw the QR code (GS ( k) instead of sending it as an image")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *uri == "" {
		return usageError{"--printer URI is required"}
	}
	if _, err := printer.ParseURI(*uri); err != nil {
		return usageError{err.Error()}
	}
	w, ok := raster.WidthForMM(*width)
	if !ok {
		return usageError{"--width is 58 or 80"}
	}
	fonts, err := raster.DejaVu()
	if err != nil {
		return err
	}
	data, err := layout.Encode(testPage(*text, *qr, *width, w, time.Now()), layout.Options{Width: w, Fonts: fonts, NativeQR: *native})
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	dev, err := printer.Open(ctx, *uri)
	if err != nil {
		return bilingual(printer.NoticeUnreachable, err)
	}
	defer dev.Close()
	st, err := dev.Status(ctx)
	if err != nil {
		return bilingual(printer.NoticeNoStatus, err)
	}
	if !st.CanPrint() {
		return bilingual(printer.StatusNotice(st), fmt.Errorf("printer status: %s", st))
	}
	t0 := time.Now()
	warned := false
	if _, err := dev.Print(ctx, data, func() {
		if !warned {
			warned = true
			n := printer.NoticeStalled
			fmt.Fprintf(stderr, "%s\n%s\n", n.VI, n.EN)
		}
	}); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return bilingual(printer.NoticeStalled, err)
		}
		return err
	}
	st, err = dev.Status(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Đã in phiếu thử (%d byte, %d ms). Trạng thái máy in: %s\n", len(data), time.Since(t0).Milliseconds(), st)
	fmt.Fprintf(stdout, "Test ticket printed (%d bytes, %d ms). Printer status: %s\n", len(data), time.Since(t0).Milliseconds(), st)
	if n := printer.StatusNotice(st); !n.IsZero() {
		fmt.Fprintf(stdout, "%s\n%s\n", n.VI, n.EN)
	}
	return nil
}

func runPrintStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("print status", stderr)
	uri := fs.String("printer", "", "printer URI: tcp://HOST:PORT or usb:/dev/usb/lpN (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *uri == "" {
		return usageError{"--printer URI is required"}
	}
	if _, err := printer.ParseURI(*uri); err != nil {
		return usageError{err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	dev, err := printer.Open(ctx, *uri)
	if err != nil {
		return bilingual(printer.NoticeUnreachable, err)
	}
	defer dev.Close()
	st, err := dev.Status(ctx)
	if err != nil {
		return bilingual(printer.NoticeNoStatus, err)
	}
	fmt.Fprintf(stdout, "status: %s\n", st)
	n := printer.StatusNotice(st)
	if n.IsZero() {
		n = printer.Notice{VI: "Máy in sẵn sàng.", EN: "The printer is ready."}
	}
	fmt.Fprintf(stdout, "%s\n%s\n", n.VI, n.EN)
	return nil
}

// bilingual puts the Vietnamese and English notice before the technical error.
func bilingual(n printer.Notice, err error) error {
	return fmt.Errorf("%s\n%s\n(%w)", n.VI, n.EN, err)
}
