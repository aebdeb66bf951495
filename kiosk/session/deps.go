package session

import (
	"context"
	"time"

	"github.com/vnkiosk/kiosk/devices/barcode"
	"github.com/vnkiosk/kiosk/devices/cabinet"
	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/devices/idcard/pcsc"
	"github.com/vnkiosk/kiosk/devices/printer"
	"github.com/vnkiosk/kiosk/devices/printer/layout"
	"github.com/vnkiosk/kiosk/devices/scanner"
	"github.com/vnkiosk/kiosk/kiosk/backend"
	"github.com/vnkiosk/kiosk/kiosk/submission"
)

// The devices and services a session uses, each as the small interface the
// session needs; the daemon plugs in the real subsystems, tests plug in fakes
// or the real ones.

// CardReader is the chip ID card reader (*idcard.Service).
type CardReader interface {
	Subscribe() (<-chan pcsc.Event, func())
	Read(ctx context.Context, key idcard.AccessKey, opt idcard.Options) (*idcard.Document, error)
}

// CodeScanner is the QR/barcode scanner (*barcode.Scanner).
type CodeScanner interface {
	Subscribe() (<-chan barcode.Scan, func())
}

// DocumentScanner is the document scanner (*scanner.Scanner).
type DocumentScanner interface {
	Scan(ctx context.Context, req scanner.ScanRequest, progress func(scanner.Progress)) (*scanner.Document, error)
}

// ReceiptPrinter is the receipt printer (*printer.Printer).
type ReceiptPrinter interface {
	Submit(ctx context.Context, page layout.Page) (string, error)
	Events() (<-chan printer.Event, func())
}

// Backend is the provincial backend's payment and dossier status service
// (*backend.Client).
type Backend interface {
	WaitPayment(ctx context.Context, ref string) (backend.Payment, error)
	Status(ctx context.Context, maHoSo string) (backend.DossierStatus, error)
}

// FilingSink durably queues a finished filing (*submission.Intake).
type FilingSink interface {
	Submit(ctx context.Context, raw []byte, atts []submission.Attachment) (submission.Receipt, error)
}

// CustomerDisplay shows the payment QR to the citizen on a second screen
// (*display.Display).
type CustomerDisplay interface {
	ShowsPaymentQR() bool
	ShowPaymentQR(payload string, amountVND int64, deadline time.Time) error
	ShowIdle() error
}

// CabinetEvents are the cabinet's help button and tamper events
// (*cabinet.Cabinet).
type CabinetEvents interface {
	Subscribe() (<-chan cabinet.Event, func())
}

// The event types the loop selects on, named once.
type (
	cabinetEvent = cabinet.Event
	pcscEvent    = pcsc.Event
	barcodeScan  = barcode.Scan
	printerEvent = printer.Event
)
