package packaging

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The package is built once per test process, into a directory TestMain removes.
var (
	debOnce sync.Once
	debPath string
	debErr  error
	distDir string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if distDir != "" {
		os.RemoveAll(distDir)
	}
	os.Exit(code)
}

// requireTool returns the path of a tool the test cannot do without.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found; it comes with Debian's dpkg, systemd and coreutils", name)
	}
	return p
}

// buildDeb runs `make deb` into a temporary dist directory and returns the
// .deb. Without dpkg-deb the test is skipped, unless KIOSK_REQUIRE_TOOLS=1.
func buildDeb(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		if os.Getenv("KIOSK_REQUIRE_TOOLS") == "1" {
			t.Fatal("dpkg-deb not found; install the Debian package dpkg")
		}
		t.Skip("needs dpkg-deb (KIOSK_REQUIRE_TOOLS=1 makes this a failure)")
	}
	debOnce.Do(func() {
		distDir, debErr = os.MkdirTemp("", "kiosk-dist-")
		if debErr != nil {
			return
		}
		cmd := exec.Command("make", "--no-print-directory", "deb", "DIST="+distDir)
		cmd.Dir = ".."
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			debErr = fmt.Errorf("make deb: %w\n%s", err, stderr.Bytes())
			return
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		debPath = lines[len(lines)-1]
		if filepath.Dir(debPath) != distDir {
			debErr = fmt.Errorf("make deb printed %q, want a file in %s", debPath, distDir)
		}
	})
	if debErr != nil {
		t.Fatal(debErr)
	}
	return debPath
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// packaged lists every file the package ships, with its mode as `dpkg-deb
// --contents` prints it and, when it is copied from the repository as it is,
// the source it must equal.
var packaged = []struct {
	path, mode, source string
}{
	{"./usr/bin/kioskd", "-rwxr-xr-x", ""},
	{"./usr/bin/kioskctl", "-rwxr-xr-x", ""},
	{"./lib/systemd/system/kioskd.service", "-rw-r--r--", "systemd/kioskd.service"},
	{"./lib/systemd/system/kiosk-browser@.service", "-rw-r--r--", "systemd/kiosk-browser@.service"},
	{"./lib/udev/rules.d/70-kiosk.rules", "-rw-r--r--", "systemd/70-kiosk.rules"},
	{"./usr/lib/sysusers.d/kiosk.conf", "-rw-r--r--", "systemd/kiosk.sysusers"},
	{"./etc/kioskd/kioskd.yaml", "-rw-r-----", "kiosk/config/example.yaml"},
	{"./etc/kioskd/kioskd.yaml.example", "-rw-r-----", "kiosk/config/example.yaml"},
	{"./usr/share/doc/kiosk/README.md", "-rw-r--r--", "README.md"},
}

var wantConffiles = []string{"/etc/kioskd/kioskd.yaml", "/etc/kioskd/kioskd.yaml.example"}

// TestDebContents checks every file's presence, mode and owner, that nothing
// else is shipped, and that directories are world-readable.
func TestDebContents(t *testing.T) {
	t.Parallel()
	deb := buildDeb(t)
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "--contents", deb)), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("unexpected dpkg-deb --contents line %q", line)
		}
		mode, owner, path := f[0], f[1], f[5]
		if owner != "root/root" {
			t.Errorf("%s is owned by %s, want root/root", path, owner)
		}
		if strings.HasPrefix(mode, "d") {
			if mode != "drwxr-xr-x" {
				t.Errorf("directory %s has mode %s, want drwxr-xr-x", path, mode)
			}
			continue
		}
		got[path] = mode
	}
	for _, p := range packaged {
		mode, ok := got[p.path]
		switch {
		case !ok:
			t.Errorf("the package lacks %s", p.path)
		case mode != p.mode:
			t.Errorf("%s has mode %s, want %s", p.path, mode, p.mode)
		}
		delete(got, p.path)
	}
	for path := range got {
		t.Errorf("the package ships %s, which the test does not expect", path)
	}
}

// TestDebControl checks the control fields, the conffiles and the maintainer
// scripts' modes and shell syntax.
func TestDebControl(t *testing.T) {
	t.Parallel()
	deb := buildDeb(t)
	field := func(name string) string {
		return strings.TrimSpace(run(t, "dpkg-deb", "--field", deb, name))
	}
	if got := field("Package"); got != "kiosk" {
		t.Errorf("Package: %q, want kiosk", got)
	}
	version := field("Version")
	run(t, "dpkg", "--validate-version", version)
	arch := field("Architecture")
	if want := filepath.Base(deb); want != "kiosk_"+version+"_"+arch+".deb" {
		t.Errorf("file name %s does not match version %s and architecture %s", want, version, arch)
	}
	if size := field("Installed-Size"); size == "" || strings.Trim(size, "0123456789") != "" || size == "0" {
		t.Errorf("Installed-Size: %q, want a positive number of KiB", size)
	}
	depends := field("Depends")
	for _, pkg := range []string{"libc6", "libpcsclite1", "libopenjp2-7", "pcscd", "sane-utils", "espeak-ng",
		"chromium", "cage", "fonts-dejavu-core", "systemd"} {
		if !slices.ContainsFunc(strings.Split(depends, ","), func(d string) bool {
			return strings.Fields(d)[0] == pkg
		}) {
			t.Errorf("Depends: %q lacks %s", depends, pkg)
		}
	}

	ctrl := t.TempDir()
	run(t, "dpkg-deb", "--control", deb, ctrl)
	conffiles, err := os.ReadFile(filepath.Join(ctrl, "conffiles"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(conffiles)); !slices.Equal(got, wantConffiles) {
		t.Errorf("conffiles %q, want %q", got, wantConffiles)
	}
	sh := requireTool(t, "sh")
	for _, name := range []string{"postinst", "prerm", "postrm"} {
		path := filepath.Join(ctrl, name)
		fi, err := os.Stat(path)
		if err != nil {
			t.Errorf("no %s: %v", name, err)
			continue
		}
		if fi.Mode().Perm() != 0o755 {
			t.Errorf("%s has mode %v, want 0755", name, fi.Mode().Perm())
		}
		if out, err := exec.Command(sh, "-n", path).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", name, err, out)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("#!/bin/sh\n")) || !bytes.Contains(b, []byte("\nset -e\n")) {
			t.Errorf("%s must start with #!/bin/sh and set -e", name)
		}
	}
	if _, err := exec.LookPath("lintian"); err == nil {
		// Errors fail the test; warnings (0640 configuration, systemctl in
		// maintainer scripts, Go's non-PIE binaries) are deliberate. The
		// repository has no licence or changelog yet to ship as
		// /usr/share/doc/kiosk/copyright and changelog.gz.
		out, err := exec.Command("lintian", "--fail-on", "error", "--suppress-tags", "no-copyright-file,no-changelog",
			deb).CombinedOutput()
		if err != nil {
			t.Errorf("lintian: %v\n%s", err, out)
		}
	}
}

// TestDebFilesMatchSources extracts the package and compares each copied file
// with the repository's and checks the md5sums dpkg will verify against.
func TestDebFilesMatchSources(t *testing.T) {
	t.Parallel()
	deb := buildDeb(t)
	root := t.TempDir()
	run(t, "dpkg-deb", "--extract", deb, root)
	for _, p := range packaged {
		if p.source == "" {
			continue
		}
		got, err := os.ReadFile(filepath.Join(root, p.path))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("..", p.source))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s", p.path, p.source)
		}
	}
	ctrl := t.TempDir()
	run(t, "dpkg-deb", "--control", deb, ctrl)
	cmd := exec.Command(requireTool(t, "md5sum"), "--check", "--quiet", filepath.Join(ctrl, "md5sums"))
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("md5sum --check DEBIAN/md5sums: %v\n%s", err, out)
	}
}

// TestDebUnitsVerify runs `systemd-analyze verify` on the units as the package
// installs them: the package extracted into a root that also holds Debian 12's
// own units and the two commands the units run besides kioskd, so every
// dependency and ExecStart resolves inside the root, not on this machine.
func TestDebUnitsVerify(t *testing.T) {
	t.Parallel()
	deb := buildDeb(t)
	analyze := requireTool(t, "systemd-analyze")
	root := t.TempDir()
	run(t, "dpkg-deb", "--extract", deb, root)
	system := "/usr/lib/systemd/system"
	entries, err := os.ReadDir(system)
	if err != nil {
		t.Fatalf("Debian's units: %v", err)
	}
	dst := filepath.Join(root, system)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := copyEntry(filepath.Join(system, e.Name()), filepath.Join(dst, e.Name()), true); err != nil {
			t.Fatal(err)
		}
	}
	for _, cmd := range []string{"/bin/sh", "/bin/kill"} {
		if err := copyEntry(cmd, filepath.Join(root, cmd), false); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(analyze, "verify", "--man=no", "--root="+root,
		"kioskd.service", "kiosk-browser@tty1.service").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify --root: %v\n%s", err, out)
	}
}

// copyEntry copies a regular file, following symlinks; with keepLinks it
// recreates a symlink to a relative target instead, so unit aliases keep
// working inside the root.
func copyEntry(src, dst string, keepLinks bool) error {
	if fi, err := os.Lstat(src); keepLinks && err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if target, err := os.Readlink(src); err == nil && !filepath.IsAbs(target) {
			return os.Symlink(target, dst)
		}
	}
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if fi.IsDir() {
		return nil // *.wants directories of Debian's own units; not needed
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// dpkgRoot runs dpkg on a throwaway root. --force-script-chrootless runs the
// maintainer scripts on this machine with DPKG_ROOT set, which they honour:
// users go to the root's /etc/passwd, units are enabled in the root, and
// nothing on this machine is started, stopped or reloaded. The kiosk's
// dependencies are not in the root's database, hence --force-depends.
func dpkgRoot(t *testing.T, root string, args ...string) string {
	t.Helper()
	all := []string{"--root=" + root, "--force-script-chrootless", "--force-depends", "--log=/dev/null"}
	if os.Geteuid() != 0 {
		all = append(all, "--force-not-root")
	}
	return run(t, "dpkg", append(all, args...)...)
}

// TestDebLifecycleInRoot installs, upgrades, removes and purges the package in
// a throwaway root through dpkg and the real maintainer scripts.
func TestDebLifecycleInRoot(t *testing.T) {
	t.Parallel()
	deb := buildDeb(t)
	requireTool(t, "dpkg")
	requireTool(t, "systemctl")
	requireTool(t, "systemd-sysusers")
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	in := func(p string) string { return filepath.Join(root, p) }
	exists := func(p string) bool { _, err := os.Lstat(in(p)); return err == nil }
	kioskdWanted := "etc/systemd/system/multi-user.target.wants/kioskd.service"
	browserWanted := "etc/systemd/system/graphical.target.wants/kiosk-browser@tty1.service"

	dpkgRoot(t, root, "--install", deb)
	passwd, err := os.ReadFile(in("etc/passwd"))
	if err != nil {
		t.Fatalf("postinst created no users: %v", err)
	}
	for _, user := range []string{"kiosk:", "kiosk-ui:"} {
		if !bytes.Contains(passwd, []byte("\n"+user)) && !bytes.HasPrefix(passwd, []byte(user)) {
			t.Errorf("postinst did not create user %s\n%s", strings.TrimSuffix(user, ":"), passwd)
		}
	}
	for _, p := range []string{kioskdWanted, browserWanted} {
		if !exists(p) {
			t.Errorf("postinst did not enable the unit: no %s", p)
		}
	}
	if out := dpkgRoot(t, root, "--verify", "kiosk"); strings.TrimSpace(out) != "" {
		t.Errorf("dpkg --verify after install:\n%s", out)
	}

	// An administrator disables the touchscreen; an upgrade must not undo it.
	if err := os.Remove(in(browserWanted)); err != nil {
		t.Fatal(err)
	}
	dpkgRoot(t, root, "--install", deb)
	if exists(browserWanted) {
		t.Error("an upgrade re-enabled kiosk-browser@tty1.service, which the administrator had disabled")
	}
	if !exists(kioskdWanted) {
		t.Error("kioskd.service is no longer enabled after an upgrade")
	}

	// Removal keeps the state and the configuration; purge deletes both.
	if err := os.MkdirAll(in("var/lib/kioskd/outbox"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in("var/lib/kioskd/outbox/queue.db"), []byte("filings"), 0o600); err != nil {
		t.Fatal(err)
	}
	dpkgRoot(t, root, "--remove", "kiosk")
	if exists(kioskdWanted) {
		t.Error("kioskd.service is still enabled after removal")
	}
	if exists("usr/bin/kioskd") {
		t.Error("usr/bin/kioskd is still there after removal")
	}
	for _, p := range []string{"var/lib/kioskd/outbox/queue.db", "etc/kioskd/kioskd.yaml"} {
		if !exists(p) {
			t.Errorf("removal deleted %s; only purge may", p)
		}
	}
	dpkgRoot(t, root, "--purge", "kiosk")
	for _, p := range []string{"var/lib/kioskd", "etc/kioskd"} {
		if exists(p) {
			t.Errorf("purge left %s", p)
		}
	}
	// dpkg forgets a purged package entirely: --status fails.
	if out, err := exec.Command("dpkg", "--root="+root, "--status", "kiosk").CombinedOutput(); err == nil {
		t.Errorf("dpkg still knows kiosk after purge:\n%s", out)
	}
}

// TestDebInstallOnHost really installs the package on this machine: only as
// root, and only when KIOSK_DEB_INSTALL=1 (a CI machine built for it), since
// it adds users and enables units. The package is removed afterwards.
func TestDebInstallOnHost(t *testing.T) {
	if os.Getenv("KIOSK_DEB_INSTALL") != "1" || os.Geteuid() != 0 {
		t.Skip("installs on this machine; set KIOSK_DEB_INSTALL=1 and run as root")
	}
	deb := buildDeb(t)
	t.Cleanup(func() {
		if out, err := exec.Command("dpkg", "--remove", "kiosk").CombinedOutput(); err != nil {
			t.Errorf("dpkg --remove kiosk: %v\n%s", err, out)
		}
	})
	run(t, "dpkg", "--install", deb)
	if out := run(t, "dpkg", "--verify", "kiosk"); strings.TrimSpace(out) != "" {
		t.Errorf("dpkg --verify:\n%s", out)
	}
	run(t, "getent", "passwd", "kiosk")
	if got := strings.TrimSpace(run(t, "stat", "-c", "%U:%G %a", "/etc/kioskd/kioskd.yaml")); got != "root:kiosk 640" {
		t.Errorf("/etc/kioskd/kioskd.yaml is %s, want root:kiosk 640", got)
	}
	for _, unit := range []string{"kioskd.service", "kiosk-browser@tty1.service"} {
		if out, err := exec.Command("systemctl", "is-enabled", unit).CombinedOutput(); err != nil {
			t.Errorf("%s is not enabled: %s", unit, out)
		}
	}
	out, err := exec.Command("systemd-analyze", "verify", "--man=no", "kioskd.service", "kiosk-browser@tty1.service").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
