// Package packaging owns the kiosk's Debian package: the control file and
// maintainer scripts in packaging/debian, assembled by scripts/deb.sh (`make
// deb`) around what `make install` lays out. Its tests build the .deb and hold
// it to account: the files and their modes, the conffiles, `systemd-analyze
// verify` on the units as installed, and a whole install, upgrade, remove and
// purge with dpkg in a throwaway root. There is no Go code to import here.
package packaging
