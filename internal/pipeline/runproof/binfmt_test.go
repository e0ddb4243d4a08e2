package runproof

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
)

// Entries as Debian's qemu-user-static registers them (read from a real machine).
const (
	qemuAarch64 = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\n" +
		"magic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n"
	qemuArm = "enabled\ninterpreter /usr/libexec/qemu-binfmt/arm-binfmt-P\nflags: PF\noffset 0\n" +
		"magic 7f454c4601010100000000000000000002002800\nmask ffffffffffffff00fffffffffffffffffeffffff\n"
	jar = "enabled\ninterpreter /usr/bin/jexec\nflags: \noffset 0\nmagic 504b0304\n"
)

func TestParseEntry(t *testing.T) {
	e, err := ParseEntry("qemu-aarch64", qemuAarch64)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Enabled || e.Flags != "PF" || e.Interpreter != "/usr/libexec/qemu-binfmt/aarch64-binfmt-P" ||
		e.Offset != 0 || len(e.Magic) != 20 || len(e.Mask) != 20 || e.Magic[18] != 0xb7 {
		t.Errorf("parsed %+v", e)
	}
	e, err = ParseEntry("off", "disabled\ninterpreter /x\nflags: F\noffset 0\nmagic 7f454c46\n")
	if err != nil || e.Enabled || e.Mask != nil {
		t.Errorf("disabled entry without mask: %+v, %v", e, err)
	}
	for _, tc := range []struct{ text, want string }{
		{"enabled\nmagic 7f45zz\n", `magic "7f45zz"`},
		{"enabled\noffset x\nmagic 7f\n", `offset "x"`},
		{"enabled\nmagic 7f454c46\nmask ffff\n", "mask has 2 bytes, magic 4"},
	} {
		if _, err := ParseEntry("broken", tc.text); err == nil || !strings.Contains(err.Error(), "binfmt_misc entry broken: "+tc.want) {
			t.Errorf("%q: error = %v, want %q", tc.text, err, tc.want)
		}
	}
}

func TestEntryMatchesTheELFHeaderOfItsPlatform(t *testing.T) {
	aarch64, _ := ParseEntry("qemu-aarch64", qemuAarch64)
	arm, _ := ParseEntry("qemu-arm", qemuArm)
	zip, _ := ParseEntry("jar", jar)
	for _, tc := range []struct {
		platform platform.Platform
		want     string // the entry that matches, "" none
	}{
		{arm64, "qemu-aarch64"},
		{armv7, "qemu-arm"},
		{amd64, ""},
		{platform.Platform{OS: "linux", Arch: "riscv64"}, ""},
	} {
		h, err := elfHeader(tc.platform)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, e := range []Entry{zip, aarch64, arm} {
			if e.Matches(h) {
				got += e.Name
			}
		}
		if got != tc.want {
			t.Errorf("%s: matched %q, want %q", tc.platform, got, tc.want)
		}
	}
	// The header of a real binary, read from the file, matches the same way.
	if !aarch64.Matches(append([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"), 0x02, 0x00, 0xb7, 0x00)) {
		t.Error("an arm64 ELF header did not match qemu-aarch64")
	}
	if aarch64.Matches([]byte("\x7fELF")) {
		t.Error("a header shorter than the magic matched")
	}
}

// binfmtDir writes a fake /proc/sys/fs/binfmt_misc.
func binfmtDir(t *testing.T, status string, entries map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if status != "" {
		entries["status"] = status
	}
	for name, text := range entries {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestHow(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("the cases are written for a linux/amd64 machine (CI's)")
	}
	noF := strings.Replace(qemuAarch64, "flags: PF", "flags: P", 1)
	for _, tc := range []struct {
		name     string
		dir      string
		platform platform.Platform
		handler  string
		notRun   string // a part of the reason; "" when it runs
	}{
		{"native", t.TempDir(), amd64, "", ""},
		{"emulated", binfmtDir(t, "enabled", map[string]string{"jar": jar, "qemu-aarch64": qemuAarch64, "qemu-arm": qemuArm}), arm64, "qemu-aarch64", ""},
		{"any name", binfmtDir(t, "enabled", map[string]string{"aarch64": qemuAarch64}), arm64, "aarch64", ""},
		{"not mounted", t.TempDir(), arm64, "", "binfmt_misc is not mounted"},
		{"missing", filepath.Join(t.TempDir(), "absent"), arm64, "", "binfmt_misc is not mounted"},
		{"disabled", binfmtDir(t, "disabled", map[string]string{"qemu-aarch64": qemuAarch64}), arm64, "", "binfmt_misc is disabled"},
		{"no handler", binfmtDir(t, "enabled", map[string]string{"qemu-arm": qemuArm}), arm64, "", "no binfmt_misc handler in"},
		{"handler disabled", binfmtDir(t, "enabled", map[string]string{"qemu-aarch64": strings.Replace(qemuAarch64, "enabled", "disabled", 1)}), arm64, "", "handler qemu-aarch64 is disabled"},
		{"no F flag", binfmtDir(t, "enabled", map[string]string{"qemu-aarch64": noF}), arm64, "", "without the F (fix-binary) flag"},
		{"not linux", t.TempDir(), platform.Platform{OS: "windows", Arch: "arm64"}, "", "not a Linux platform"},
	} {
		handler, notRun := How(tc.dir, tc.platform)
		if handler != tc.handler || (tc.notRun == "") != (notRun == "") || !strings.Contains(notRun, tc.notRun) {
			t.Errorf("%s: How = %q, %q; want %q and a reason containing %q", tc.name, handler, notRun, tc.handler, tc.notRun)
		}
		// Every reason a platform cannot be emulated carries the fix.
		if tc.notRun != "" && tc.name != "not linux" && !strings.Contains(notRun, Fix) {
			t.Errorf("%s: the reason does not carry the fix: %s", tc.name, notRun)
		}
	}
}

func TestFixNamesBothWays(t *testing.T) {
	for _, want := range []string{"qemu-user-static binfmt-support", "docker/setup-qemu-action", "pinned by commit SHA"} {
		if !strings.Contains(Fix, want) {
			t.Errorf("Fix does not mention %q: %s", want, Fix)
		}
	}
}
