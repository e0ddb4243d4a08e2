package image

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
)

func TestFormatLogLine(t *testing.T) {
	for in, want := range map[string]string{
		`{"time":"2026-11-23T09:00:00.123Z","level":"INFO","msg":"request done","status":200,"path":"/v1/greet","agent":"curl 8"}`: `INFO  request done status=200 path=/v1/greet agent="curl 8"`,
		`{"level":"ERROR","msg":"cannot listen","error":{"op":"listen"}}`:                                                          `ERROR cannot listen error={"op":"listen"}`,
		`plain text from somewhere`: `plain text from somewhere`,
		`{"truncated":`:             `{"truncated":`,
		`[1,2]`:                     `[1,2]`,
	} {
		got := FormatLogLine(in)
		if !strings.HasSuffix(got, want) {
			t.Errorf("FormatLogLine(%s)\n got %s\nwant ...%s", in, got, want)
		}
	}
	// The time is shortened to the local clock with milliseconds.
	got := FormatLogLine(`{"time":"2026-11-23T09:00:00.123Z","level":"INFO","msg":"x"}`)
	if len(strings.Fields(got)[0]) != len("15:04:05.000") {
		t.Errorf("time not shortened: %s", got)
	}
}

func TestLogWriterSplitsLines(t *testing.T) {
	var b bytes.Buffer
	w := NewLogWriter(&b)
	for _, chunk := range []string{`{"level":"INFO","msg":"a"}` + "\n" + `{"level":"WA`, `RN","msg":"b"}` + "\n", "tail without newline"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := b.String(), "INFO  a\nWARN  b\n"; got != want {
		t.Errorf("got %q, want %q (a partial line waits for its end)", got, want)
	}
}

func TestDevOptionsFrom(t *testing.T) {
	dev := func(environ ...string) (DevOptions, error) {
		s, err := settings.Load(environ)
		return DevOptionsFrom(s, nil), err
	}
	o, err := dev("PORT=", "DETACH=")
	if err != nil || o.Port != DefaultDevPort || o.Detach {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	if o, err = dev("PORT=9099", "DETACH=1"); err != nil || o.Port != 9099 || !o.Detach {
		t.Errorf("PORT=9099 DETACH=1: %+v, %v", o, err)
	}
	for _, bad := range []string{"http", "0", "70000", "-1"} {
		if _, err := dev("PORT=" + bad); err == nil || !strings.Contains(err.Error(), "PORT") {
			t.Errorf("PORT=%s: %v", bad, err)
		}
	}
}

func TestInstallBuildx(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("DOCKER_CONFIG", cfg)
	bin := filepath.Join(t.TempDir(), "buildx")
	if err := os.WriteFile(bin, []byte("v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	path, changed, err := InstallBuildx(bin)
	if err != nil || !changed || path != filepath.Join(cfg, "cli-plugins", "docker-buildx") {
		t.Fatalf("first install: %s %v %v", path, changed, err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm()&0o111 == 0 {
		t.Fatalf("plugin not executable: %v %v", st, err)
	}
	if _, changed, err = InstallBuildx(bin); err != nil || changed {
		t.Errorf("same binary again: changed=%v %v", changed, err)
	}
	if err := os.WriteFile(bin, []byte("v2"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, changed, err = InstallBuildx(bin); err != nil || !changed {
		t.Errorf("new pin: changed=%v %v", changed, err)
	}
	if got, _ := os.ReadFile(path); string(got) != "v2" {
		t.Errorf("plugin holds %q after the update", got)
	}
}

// Without the plugin, a build fails naming the cause and the fix, before running anything.
func TestBuildWithoutBuildx(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no cli-plugins here
	t.Setenv("PATH", fakeDocker(t, "buildx", "'buildx' is not a docker command."))
	_, err := Build(context.Background(), BuildOptions{Dockerfile: "Dockerfile", Context: ".", Platform: "linux/amd64"})
	if !errors.Is(err, ErrNoBuildx) || !strings.Contains(err.Error(), "cli-plugins") {
		t.Errorf("got %v, want ErrNoBuildx", err)
	}
}

// fakeDocker puts a `docker` first on PATH that fails when its first argument is sub.
func fakeDocker(t *testing.T, sub, msg string) string {
	t.Helper()
	dir := t.TempDir()
	script := "#!/bin/sh\nif [ \"$1\" = " + sub + " ]; then echo \"" + msg + "\" >&2; exit 1; fi\nexit 0\n"
	if err := os.WriteFile(filepath.Join(dir, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir + string(os.PathListSeparator) + os.Getenv("PATH")
}

func TestReport(t *testing.T) {
	i := Info{ID: "sha256:0123456789abcdef0123", Size: 3 << 20, Layers: []Layer{
		{Size: 1 << 20, CreatedBy: ""},
		{Size: 0, CreatedBy: "/bin/sh -c #(nop)  USER 65532:65532"},
		{Size: 2 << 20, CreatedBy: "COPY linux/amd64/slipway /usr/local/bin/slipway # buildkit"},
	}}
	var b bytes.Buffer
	i.Report(&b, "slipway:dev")
	out := b.String()
	for _, want := range []string{"slipway:dev  0123456789ab  3.00 MiB", "1.00 MiB", "(base image layer)", "2.00 MiB", "COPY linux/amd64/slipway"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "USER") {
		t.Errorf("empty metadata layers should be left out:\n%s", out)
	}
}
