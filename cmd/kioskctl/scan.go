package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/vnkiosk/kiosk/devices/scanner"
	"github.com/vnkiosk/kiosk/devices/scanner/sanesim"
)

func init() {
	register("scan", "scan pages to an upload-sized PDF: kioskctl scan --out FILE.pdf [--source adf] [--pages N] [--dpi 300] [--colour]", runScan)
}

func runScan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("scan", stderr)
	device := fs.String("device", "test", "SANE device name, as 'scanimage -L' lists them; test or test:N is the simulator (SANE's test backend)")
	pages := fs.Int("pages", 0, "pages to scan (default: 1 on the flatbed, every page in the feeder)")
	dpi := fs.Int("dpi", 150, "resolution: 150 or 300 for documents (75 to 600 accepted)")
	colour := fs.Bool("colour", false, "scan in colour (default: grey, smaller)")
	source := fs.String("source", string(scanner.Flatbed), "where the pages are: flatbed or adf (the document feeder)")
	out := fs.String("out", "", "PDF file to write (required)")
	saneConfig := fs.String("sane-config", "", "SANE configuration directory (SANE_CONFIG_DIR) (default: /etc/sane.d; for the simulator, one made for the run)")
	fault := fs.String("sim-fault", "", "simulator only: the fault the scanner reports: "+scanFaultNames())
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	req := scanner.ScanRequest{Pages: *pages, DPI: *dpi, Colour: *colour, Source: scanner.Source(*source)}
	switch {
	case *out == "":
		return usageError{"--out FILE.pdf is required"}
	case req.Source != scanner.Flatbed && req.Source != scanner.Feeder:
		return usageError{"--source is flatbed or adf"}
	case req.DPI < 75 || req.DPI > 600:
		return usageError{"--dpi is between 75 and 600 (150 or 300 for documents)"}
	case req.Pages < 0 || req.Pages > scanner.DefaultMaxPages:
		return usageError{fmt.Sprintf("--pages is between 1 and %d", scanner.DefaultMaxPages)}
	}
	simulated := *device == "test" || strings.HasPrefix(*device, "test:")
	simFault, err := sanesim.ParseFault(*fault)
	if err != nil {
		return usageError{"--sim-fault is one of " + scanFaultNames()}
	}
	if simFault != sanesim.NoFault && (!simulated || *saneConfig != "") {
		return usageError{"--sim-fault works only with the simulator (--device test, no --sane-config)"}
	}

	// Page files live for milliseconds in a private directory beside the PDF,
	// where the document is going anyway, and nowhere else.
	outPath, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	private, err := os.MkdirTemp(filepath.Dir(outPath), ".kioskctl-scan-")
	if err != nil {
		return fmt.Errorf("private work directory beside %s: %w", *out, err)
	}
	defer os.RemoveAll(private)
	configDir := *saneConfig
	if simulated && configDir == "" {
		configDir = filepath.Join(private, "sane")
		if err := sanesim.Write(configDir, sanesim.Config{Picture: sanesim.Grid, Fault: simFault}); err != nil {
			return err
		}
	}
	s, err := scanner.New(scanner.Options{
		Device:    *device,
		WorkDir:   filepath.Join(private, "pages"),
		ConfigDir: configDir,
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return err
	}
	doc, err := s.Scan(ctx, req, func(p scanner.Progress) {
		switch p.Stage {
		case scanner.StagePageScanned:
			if p.Pages > 0 {
				fmt.Fprintf(stderr, "đã quét trang %d/%d · page %d of %d scanned\n", p.Page, p.Pages, p.Page, p.Pages)
			} else {
				fmt.Fprintf(stderr, "đã quét trang %d · page %d scanned\n", p.Page, p.Page)
			}
		case scanner.StageBuildingPDF:
			fmt.Fprintln(stderr, "đang tạo tệp PDF · building the PDF")
		}
	})
	if err != nil {
		m := scanner.Explain(err)
		return fmt.Errorf("%s\n%s\n(%w)", m.VI, m.EN, err)
	}
	defer doc.Wipe()
	if err := writeScanPDF(outPath, doc.PDF, private); err != nil {
		return err
	}
	mode := "xám · grey"
	if req.Colour {
		mode = "màu · colour"
	}
	fmt.Fprintf(stdout, "%s: %d trang · %d pages, %d KB, A4, %d dpi, %s\n",
		*out, len(doc.Pages), len(doc.Pages), (len(doc.PDF)+999)/1000, doc.Pages[0].DPI, mode)
	return nil
}

// writeScanPDF writes b to name (0600: it is a citizen's document) through a
// temporary file in tmpDir, on the same file system, so that name is either
// the old file or the whole new one.
func writeScanPDF(name string, b []byte, tmpDir string) error {
	f, err := os.CreateTemp(tmpDir, "out-*.pdf")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func scanFaultNames() string {
	var names []string
	for _, f := range sanesim.Faults() {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}
