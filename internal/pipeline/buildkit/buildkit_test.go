package buildkit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigTOMLMarksRegistriesPlainHTTP(t *testing.T) {
	got := ConfigTOML([]string{"127.0.0.1:5000"})
	want := "\n[registry.\"127.0.0.1:5000\"]\n  http = true\n  insecure = true\n"
	if !strings.HasSuffix(got, want) {
		t.Fatalf("ConfigTOML = %q, want it to end with %q", got, want)
	}
}

func TestBuilderNameIsPerCheckout(t *testing.T) {
	a, b := BuilderName("/src/a/.slipway/buildkit"), BuilderName("/src/b/.slipway/buildkit")
	if a == b || !strings.HasPrefix(a, "slipway-") || a != BuilderName("/src/a/.slipway/buildkit") {
		t.Fatalf("BuilderName: %q and %q", a, b)
	}
}

// A daemon that dies at start must be reported with its log, not waited on for a minute.
func TestStartReportsADaemonThatExits(t *testing.T) {
	dir := t.TempDir()
	if err := Requirements(); err != nil {
		_, startErr := Start(context.Background(), Config{Binary: "unused", StateDir: dir})
		if startErr == nil || startErr.Error() != err.Error() {
			t.Fatalf("Start without its requirements: %v, want %v", startErr, err)
		}
		return
	}
	fake := filepath.Join(dir, "buildkitd")
	script := "#!/bin/sh\necho 'buildkitd: failed to mount overlay: permission denied' >&2\nexit 1\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), Config{Binary: fake, StateDir: filepath.Join(dir, "state")})
	if err == nil || !strings.Contains(err.Error(), "buildkitd exited at start") ||
		!strings.Contains(err.Error(), "failed to mount overlay") {
		t.Fatalf("Start with a daemon that exits: %v", err)
	}
}

func TestStartRefusesASocketPathLinuxCannotBind(t *testing.T) {
	long := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	_, err := Start(context.Background(), Config{Binary: "unused", StateDir: long})
	if err == nil || !strings.Contains(err.Error(), "shorter path") {
		t.Fatalf("Start with a %d-byte state dir: %v", len(long), err)
	}
}
