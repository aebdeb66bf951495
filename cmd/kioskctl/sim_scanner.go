//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vnkiosk/kiosk/devices/barcode/scannersim"
)

func init() {
	register("sim scanner", "plug in a simulated serial QR scanner; each stdin line is one scan, until Ctrl+C", runSimScanner)
}

// maxScanLine bounds a stdin line; far above any QR code (7089 characters), so
// the kiosk's own bound on frames can be tried from here.
const maxScanLine = 1 << 20

func runSimScanner(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return simScanner(ctx, os.Stdin, args, stdout, stderr)
}

// simScanner prints the device path alone on stdout's first line, so scripts can
// read it, and talks to the person at the keyboard on stderr.
func simScanner(ctx context.Context, stdin io.Reader, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sim scanner", stderr)
	link := fs.String("link", "", "also create this symlink to the device, a stable path for the kiosk configuration as /dev/serial/by-id gives")
	suffixName := fs.String("suffix", "cr", "what ends each scan, as the scanner is set up: cr, lf or crlf")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	suffix, ok := map[string]string{"cr": scannersim.CR, "lf": scannersim.LF, "crlf": scannersim.CRLF}[strings.ToLower(*suffixName)]
	if !ok {
		return usageError{"--suffix is cr, lf or crlf"}
	}

	sim, err := scannersim.Plug(scannersim.Options{Link: *link, Suffix: suffix})
	if err != nil {
		return err
	}
	defer sim.Unplug()
	fmt.Fprintln(stdout, sim.DevicePath())
	fmt.Fprintf(stderr, "Máy quét mã QR mô phỏng đã cắm tại %[1]s (cấu hình kiosk: serial:%[1]s).\n"+
		"Simulated QR scanner plugged in at %[1]s (kiosk configuration: serial:%[1]s).\n"+
		"Mỗi dòng nhập là một lần quét; Ctrl+C để rút máy quét.\n"+
		"Each line typed is one scan; Ctrl+C unplugs the scanner.\n", sim.DevicePath())

	lines := make(chan string)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 64<<10), maxScanLine)
		for sc.Scan() {
			select {
			case lines <- strings.TrimSuffix(sc.Text(), "\r"):
			case <-ctx.Done():
				return
			}
		}
		readErr <- sc.Err()
	}()

	for {
		select {
		case <-ctx.Done():
			if err := sim.Unplug(); err != nil {
				return fmt.Errorf("unplug: %w", err)
			}
			fmt.Fprintln(stderr, "Đã rút máy quét. / Scanner unplugged.")
			return nil
		case err := <-readErr:
			if errors.Is(err, bufio.ErrTooLong) {
				return fmt.Errorf("a stdin line is longer than %d bytes", maxScanLine)
			}
			if err != nil {
				return fmt.Errorf("read stdin: %w", err)
			}
			// The kiosk may not have read the last scans yet: stay plugged in.
			fmt.Fprintln(stderr, "Hết dữ liệu vào; máy quét vẫn cắm đến khi bấm Ctrl+C. / End of input; the scanner stays plugged in until Ctrl+C.")
			readErr = nil
		case line := <-lines:
			if line == "" {
				continue
			}
			err := sim.Scan(line)
			if errors.Is(err, scannersim.ErrLineBreak) {
				fmt.Fprintln(stderr, "Bỏ qua dòng có ký tự CR: máy quét sẽ tách nó thành hai mã. / Skipped a line holding a CR: the scanner would split it into two codes.")
				continue
			}
			if err != nil {
				return fmt.Errorf("scan: %w", err)
			}
			fmt.Fprintf(stderr, "Đã quét %d byte. / Scanned %d bytes.\n", len(line), len(line))
		}
	}
}
