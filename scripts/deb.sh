#!/usr/bin/env bash
# Builds the kiosk's Debian package with dpkg-deb alone (no debhelper, no nfpm):
# the binaries and files go where `make install` puts them, plus the default
# /etc/kioskd/kioskd.yaml and packaging/debian's control file and maintainer
# scripts. Writes $DIST/kiosk_<version>_<arch>.deb and prints its path.
#
# Environment: DIST (default dist), VERSION (the binaries' version string,
# default `git describe`), DEB_VERSION (the package version, default derived
# from git), GO, MAKE.
set -euo pipefail
umask 022

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
dist=${DIST:-dist}
make=${MAKE:-make}
go=${GO:-go}

# debian_version turns git's view of the checkout into a Debian version that
# sorts the way releases do: tag v1.2.3 gives 1.2.3, commits after it
# 1.2.3+git<date>.<n>.<sha>, and without a tag 0.0~git<date>.<sha>.
debian_version() {
	if ! git rev-parse --git-dir >/dev/null 2>&1; then
		echo "0.0~dev"
		return
	fi
	local date sha desc tag n v
	date=$(git log -1 --format=%cd --date=format:%Y%m%d)
	sha=$(git rev-parse --short=7 HEAD)
	if desc=$(git describe --tags --long --match 'v[0-9]*' 2>/dev/null); then
		tag=${desc%-*-g*}
		n=${desc#"$tag"-}
		n=${n%%-*}
		v=${tag#v}
		v=${v//-/\~} # v1.2.0-rc1 sorts before 1.2.0 as 1.2.0~rc1
		if [[ $n != 0 ]]; then
			v+="+git$date.$n.$sha"
		fi
	else
		v="0.0~git$date.$sha"
	fi
	if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
		v+="+dirty"
	fi
	echo "$v"
}

# debian_arch maps the Go target to Debian's name for it.
debian_arch() {
	local goarch
	goarch=$("$go" env GOARCH)
	case $goarch in
	arm) echo armhf ;;
	386) echo i386 ;;
	ppc64le) echo ppc64el ;;
	*) echo "$goarch" ;;
	esac
}

version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
deb_version=${DEB_VERSION:-$(debian_version)}
arch=$(debian_arch)
if ! dpkg --validate-version "$deb_version" 2>/dev/null; then
	echo "deb: $deb_version is not a valid Debian version" >&2
	exit 1
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/kiosk-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT

# The same layout as a manual install, so the two cannot drift apart.
"$make" --no-print-directory install DESTDIR="$stage" PREFIX=/usr VERSION="$version" GO="$go" >&2
install -D -m 0640 kiosk/config/example.yaml "$stage/etc/kioskd/kioskd.yaml"
find "$stage" -type d -exec chmod 0755 {} +

# The C library version the cgo binaries need, from their symbol versions.
libc=libc6
if command -v objdump >/dev/null; then
	glibc=$(objdump -T "$stage/usr/bin/kioskd" "$stage/usr/bin/kioskctl" | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -n 1)
	if [[ -n $glibc ]]; then
		libc="libc6 (>= ${glibc#GLIBC_})"
	fi
fi

# Installed-Size in KiB, counted per file as dpkg-gencontrol does.
installed_size=$(find "$stage" \( -type f -printf '%s\n' \) -o \( ! -path "$stage" -printf '1024\n' \) |
	awk '{ kib += int(($1 + 1023) / 1024) } END { print kib }')

mkdir -m 0755 "$stage/DEBIAN"
sed -e "s/@VERSION@/$deb_version/" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$installed_size/" \
	-e "s/@LIBC@/$libc/" packaging/debian/control >"$stage/DEBIAN/control"
install -m 0644 packaging/debian/conffiles "$stage/DEBIAN/conffiles"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$stage/DEBIAN/"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
	xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/md5sums" "$stage/DEBIAN/control"

mkdir -p "$dist"
out="$dist/kiosk_${deb_version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out" >&2
echo "$out"
