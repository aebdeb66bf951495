package selftest

import (
	"context"
	"fmt"
)

// Free space limits of the state directory, which holds the outbox, the
// printer spool and scans in flight: below DiskWarn a few days of filings
// still fit; below DiskFail a busy day's may not.
const (
	DiskWarn = 500 << 20
	DiskFail = 100 << 20
)

// FreeSpace returns the bytes an unprivileged process may still write on the
// file system holding dir.
type FreeSpace func(dir string) (uint64, error)

// CheckDisk checks the free space of the state directory. free nil reads it
// with statfs(2).
func CheckDisk(dir string, free FreeSpace) Check {
	if free == nil {
		free = statfsFree
	}
	return Check{Name: NameDisk, Run: func(context.Context) Result {
		n, err := free(dir)
		if err != nil {
			return fail("cannot read the free space of the state directory: "+err.Error(), "check that "+dir+" exists and is mounted")
		}
		reason := fmt.Sprintf("%s free in %s", mib(n), dir)
		const hint = "free space there: old journals (journalctl --vacuum-size=100M), then the outbox's dead letters (kioskctl outbox)"
		switch {
		case n < DiskFail:
			return fail(reason+fmt.Sprintf("; below %s filings may not fit", mib(DiskFail)), hint)
		case n < DiskWarn:
			return warn(reason+fmt.Sprintf("; below %s", mib(DiskWarn)), hint)
		}
		return ok(reason)
	}}
}

func mib(n uint64) string {
	if n >= 10<<30 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}
