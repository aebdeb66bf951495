// Package version owns the build identity that kioskd reports in `kioskctl status`,
// in kioskd_build_info and in the User-Agent of backend calls. The Makefile sets
// Version with -ldflags; otherwise it comes from the Go build information.
package version

import (
	"runtime"
	"runtime/debug"
)

// Version is set by the Makefile: -X github.com/vnkiosk/kiosk/kiosk/version.Version=...
var Version = ""

// Info is the build identity.
type Info struct {
	Version   string `json:"version"`
	Revision  string `json:"revision,omitempty"`
	GoVersion string `json:"go_version"`
}

// Get returns the build identity.
func Get() Info {
	i := Info{Version: Version, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				i.Revision = s.Value[:12]
			}
		}
	}
	if i.Version == "" {
		i.Version = "dev"
	}
	return i
}
