package main

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"time"

	"github.com/vnkiosk/kiosk/devices/display/screen"
)

func init() {
	register("display preview", "draw the customer display's payment screen to a PNG: kioskctl display preview --payload TEXT --amount N --png FILE", runDisplayPreview)
}

// runDisplayPreview renders the payment screen exactly as the customer display
// would show it, so a technician can check that a code of a given length still
// fits at a scannable module size on the panel being installed, without a panel.
func runDisplayPreview(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("display preview", stderr)
	payload := fs.String("payload", "", "QR payload, e.g. the output of kioskctl payment vietqr")
	amount := fs.Int64("amount", 0, "amount in đồng shown above the code")
	left := fs.Duration("left", 5*time.Minute, "time left shown under the code")
	width := fs.Int("width", 240, "panel width in pixels")
	height := fs.Int("height", 240, "panel height in pixels")
	font := fs.String("font", screen.DefaultFontFile, "OpenType font that covers Vietnamese")
	pngFile := fs.String("png", "", "write the screen to this PNG file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *payload == "" || *pngFile == "" {
		return usageError{"--payload and --png are required"}
	}
	if *width <= 0 || *height <= 0 {
		return usageError{"--width and --height must be positive"}
	}
	r, err := screen.NewRenderer(*font)
	if err != nil {
		return err
	}
	img, l, err := r.PaymentQR(image.Pt(*width, *height), *payload, *amount, *left)
	if err != nil {
		return err
	}
	f, err := os.Create(*pngFile)
	if err != nil {
		return fmt.Errorf("write preview: %w", err)
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("write preview %s: %w", *pngFile, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write preview %s: %w", *pngFile, err)
	}
	fmt.Fprintf(stdout, "%s: %dx%d, QR %d modules at %d px each (%d px with the %d-module quiet zone)\n",
		*pngFile, *width, *height, l.Modules, l.ModulePx, l.QuietZone.Dx(), screen.QuietZoneModules)
	return nil
}
