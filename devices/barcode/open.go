package barcode

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"syscall"
	"time"

	"go.bug.st/serial"

	"github.com/vnkiosk/kiosk/kiosk/daemon"
)

// errNotInputDevice marks a path that opened but is not an evdev node.
var errNotInputDevice = errors.New("not an evdev input device")

// openSerial opens a serial scanner 8N1 at baud. Reads return (0, nil) after
// readTimeout without data, which keeps the reader loop turning; closing the port
// wakes a pending read at once.
func openSerial(path string, baud int, readTimeout time.Duration) (io.ReadCloser, error) {
	p, err := serial.Open(path, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, err
	}
	if err := p.SetReadTimeout(readTimeout); err != nil {
		p.Close()
		return nil, fmt.Errorf("set read timeout: %w", err)
	}
	return p, nil
}

// healthForOpenError says, for kioskctl status, why the device could not be
// opened; Absent only when it is simply not there.
func healthForOpenError(t Transport, dev string, err error) daemon.Health {
	group := "input"
	if t == Serial {
		group = "dialout"
	}
	var pe *serial.PortError
	isPortErr := errors.As(err, &pe)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.ENXIO):
		return daemon.Health{State: daemon.StateAbsent, Reason: fmt.Sprintf("no scanner at %s (not plugged in?)", dev)}
	case errors.Is(err, fs.ErrPermission), isPortErr && pe.Code() == serial.PermissionDenied:
		return daemon.Health{State: daemon.StateDegraded, Reason: fmt.Sprintf("no permission to open %s (is kioskd in the %s group?)", dev, group)}
	case errors.Is(err, syscall.EBUSY), isPortErr && pe.Code() == serial.PortBusy:
		return daemon.Health{State: daemon.StateDegraded, Reason: fmt.Sprintf("another program holds the scanner at %s", dev)}
	case errors.Is(err, errNotInputDevice):
		return daemon.Health{State: daemon.StateDegraded, Reason: fmt.Sprintf("%s is not an input device; a serial scanner is configured as serial:%s", dev, dev)}
	case isPortErr && pe.Code() == serial.InvalidSerialPort:
		return daemon.Health{State: daemon.StateDegraded, Reason: fmt.Sprintf("%s is not a serial port (%v)", dev, err)}
	}
	return daemon.Health{State: daemon.StateDegraded, Reason: fmt.Sprintf("cannot open %s: %v", dev, err)}
}
