package debian

import (
	"os"
	"path/filepath"
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

// A package unpacked after apt's lists last changed is reused without asking apt; one unpacked
// before an `apt-get update` is not (apt may offer a newer version now).
func TestUnpackedIsReusedOnlyWhileAptListsAreOlder(t *testing.T) {
	lists, err := os.Stat(listsDir)
	if err != nil {
		t.Skipf("no apt lists here (%v): not a Debian machine", err)
	}
	cache := t.TempDir()
	stamp := func(arch string, when time.Time) {
		dir := filepath.Join(cache, "busybox-static_"+arch)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, ".version")
		if err := os.WriteFile(p, []byte("1:1.35"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
	}
	stamp("amd64", lists.ModTime().Add(time.Minute))
	if _, ok := unpacked(cache, "busybox-static", []string{"amd64", "arm64"}); ok {
		t.Error("reused with arm64 missing")
	}
	stamp("arm64", lists.ModTime().Add(-time.Minute))
	if _, ok := unpacked(cache, "busybox-static", []string{"amd64", "arm64"}); ok {
		t.Error("reused a package fetched before apt's lists changed")
	}
	stamp("arm64", lists.ModTime().Add(time.Minute))
	pkgs, ok := unpacked(cache, "busybox-static", []string{"amd64", "arm64"})
	if !ok || len(pkgs) != 2 || pkgs[1].Version != "1:1.35" || pkgs[1].Arch != "arm64" {
		t.Errorf("not reused: %+v %v", pkgs, ok)
	}
}
