package daemon

import (
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// SystemdNotifier sends states to $NOTIFY_SOCKET; without one (not under systemd)
// it does nothing.
type SystemdNotifier struct{}

// Notify implements Notifier.
func (SystemdNotifier) Notify(state string) error {
	_, err := daemon.SdNotify(false, state)
	return err
}

func watchdogInterval() time.Duration {
	iv, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0
	}
	return iv
}

func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / 1000
}
