package debian

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestVersionsByArch(t *testing.T) {
	show := "Package: busybox-static\nVersion: 1:1.35.0-4+deb12u1+b1\nArchitecture: amd64\nDescription: x\n\n" +
		"Package: busybox-static\nArchitecture: arm64\nVersion: 1:1.35.0-4+deb12u1\n"
	got := versionsByArch(show)
	if got["amd64"] != "1:1.35.0-4+deb12u1+b1" || got["arm64"] != "1:1.35.0-4+deb12u1" || len(got) != 2 {
		t.Errorf("got %v", got)
	}
}

// Every path apt may write is under the project's directory, and dpkg's real status is never read.
func TestAptWritesOnlyItsOwnDirectory(t *testing.T) {
	opts := newApt("/p/.slipway/standin/apt-arm64", "arm64").options()
	joined := strings.Join(opts, " ")
	for _, want := range []string{"Dir::State=/p/.slipway/standin/apt-arm64/state", "Dir::Cache=/p/.slipway/standin/apt-arm64/cache",
		"Dir::State::status=/dev/null", "Debug::NoLocking=1", "APT::Architecture=arm64", "APT::Architectures::=arm64"} {
		if !slices.Contains(opts, want) {
			t.Errorf("apt options lack %s: %s", want, joined)
		}
	}
}

// A real fetch of a foreign-architecture package leaves the machine's apt and dpkg as they were
// and works again offline from what it unpacked.
func TestFetchLeavesTheHostAlone(t *testing.T) {
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("not a Debian machine")
	}
	if testing.Short() {
		t.Skip("fetches from Debian's mirrors")
	}
	before := hostAptState(t)
	cache := t.TempDir()
	var out bytes.Buffer
	pkgs, err := Fetch(context.Background(), &out, cache, "busybox-static", false, "arm64")
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(pkgs) != 1 || pkgs[0].Version == "" {
		t.Fatalf("Fetch = %+v", pkgs)
	}
	if _, err := os.Stat(filepath.Join(pkgs[0].Root, "bin", "busybox")); err != nil {
		t.Fatal(err)
	}
	if after := hostAptState(t); after != before {
		t.Errorf("the machine's apt/dpkg state changed:\nbefore %s\nafter  %s", before, after)
	}
	// Unpacked once, reused without apt: PATH without apt-get would still find it.
	out.Reset()
	again, err := Fetch(context.Background(), &out, cache, "busybox-static", false, "arm64")
	if err != nil || again[0] != pkgs[0] || out.Len() != 0 {
		t.Errorf("second Fetch = %+v, %v, printed %q; want the same package, silently", again, err, out.String())
	}
}

// hostAptState fingerprints what a root apt-get update or dpkg --add-architecture would change.
func hostAptState(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, p := range []string{"/var/lib/apt/lists", "/var/lib/dpkg/arch", "/var/lib/dpkg/status", "/var/cache/apt"} {
		if st, err := os.Stat(p); err == nil {
			b.WriteString(p + "@" + st.ModTime().Format(time.RFC3339Nano) + " ")
		}
	}
	arches, _ := exec.Command("dpkg", "--print-foreign-architectures").Output()
	b.WriteString("foreign=" + strings.TrimSpace(string(arches)))
	return b.String()
}

// Ubuntu keeps arm64 on its ports archive; Debian, and Ubuntu's own architectures, need nothing.
func TestUbuntuPortsForForeignArchitectures(t *testing.T) {
	ubuntu := "NAME=\"Ubuntu\"\nID=ubuntu\nVERSION_CODENAME=noble\n"
	if got := ubuntuPorts(ubuntu, "arm64"); !strings.Contains(got, "http://ports.ubuntu.com/ubuntu-ports noble main universe") ||
		!strings.Contains(got, "arch=arm64") {
		t.Errorf("ubuntu arm64: %q", got)
	}
	for _, tc := range []struct{ osr, arch string }{{ubuntu, "amd64"}, {"ID=debian\nVERSION_CODENAME=bookworm\n", "arm64"}, {"", "arm64"}} {
		if got := ubuntuPorts(tc.osr, tc.arch); got != "" {
			t.Errorf("%q %s: %q, want the machine's own sources", tc.osr, tc.arch, got)
		}
	}
}
