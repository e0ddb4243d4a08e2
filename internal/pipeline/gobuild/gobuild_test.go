package gobuild

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/version"
)

var stamp = version.Stamp{Version: "v1.2.3", Commit: "0123456789abcdef0123456789abcdef01234567", Date: "2026-01-02T01:04:05Z"}

func TestLDFlags(t *testing.T) {
	got, err := LDFlags(stamp)
	want := "-s -w -buildid= " +
		"-X github.com/slipway-dev/slipway/internal/buildinfo.Version=v1.2.3 " +
		"-X github.com/slipway-dev/slipway/internal/buildinfo.Commit=0123456789abcdef0123456789abcdef01234567 " +
		"-X github.com/slipway-dev/slipway/internal/buildinfo.Date=2026-01-02T01:04:05Z"
	if err != nil || got != want {
		t.Errorf("LDFlags = %q, %v\nwant %q", got, err, want)
	}
	for _, bad := range []version.Stamp{
		{Version: "v1 2", Commit: "c", Date: "d"},
		{Version: "v1", Commit: "", Date: "d"},
		{Version: "v1", Commit: "c", Date: `"d"`},
	} {
		if _, err := LDFlags(bad); err == nil {
			t.Errorf("LDFlags(%+v) = nil error, want rejection", bad)
		}
	}
}

func TestArgsEnvRelease(t *testing.T) {
	args := Args("-s -w", "out/slipway", "./cmd/slipway")
	want := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w", "-o", "out/slipway", "./cmd/slipway"}
	if !slices.Equal(args, want) {
		t.Errorf("Args = %q, want %q", args, want)
	}
	// The go env file counts only for where things come from, and the environment wins over it.
	goEnv := filepath.Join(t.TempDir(), "env")
	writeFile(t, goEnv, "GOFLAGS=-tags=foo\nGOEXPERIMENT=nogreenteagc\nGOAMD64=v3\nGOPROXY=https://proxy.example\nGOPRIVATE=example.com\nGOTOOLCHAIN=local\n")
	t.Setenv("GOENV", goEnv)
	t.Setenv("GOPROXY", "")
	t.Setenv("GOTOOLCHAIN", "")
	t.Setenv("GOPRIVATE", "corp.example")
	env := Env(platform.Platform{OS: "linux", Arch: "arm", Variant: "v7"})
	wantEnv := []string{"CGO_ENABLED=0", "GOFLAGS=", "GOENV=off", "GOPROXY=https://proxy.example", "GOTOOLCHAIN=local",
		"GOOS=linux", "GOARCH=arm", "GOARM=7"}
	if !slices.Equal(env, wantEnv) {
		t.Errorf("Env = %q, want %q", env, wantEnv)
	}
	t.Setenv("GOENV", "off")
	if env := Env(platform.Platform{OS: "linux", Arch: "amd64"}); !slices.Equal(env, []string{"CGO_ENABLED=0", "GOFLAGS=", "GOENV=off", "GOOS=linux", "GOARCH=amd64"}) {
		t.Errorf("Env with GOENV=off = %q", env)
	}
	rel, err := ReleaseEnv(stamp)
	ld, _ := LDFlags(stamp)
	wantRel := []string{"SLIPWAY_LDFLAGS=" + ld, "SLIPWAY_GOFLAGS=-trimpath -buildvcs=false", "SLIPWAY_CGO_ENABLED=0", "GOENV=off"}
	if err != nil || !slices.Equal(rel, wantRel) {
		t.Errorf("ReleaseEnv = %q, %v; want %q", rel, err, wantRel)
	}
}

// fixture writes a small module: a main package importing a package that embeds files.
func fixture(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":          "module example.com/fixture\n\ngo 1.26\n",
		"cmd/app/main.go": "package main\n\nimport \"example.com/fixture/greet\"\n\nfunc main() { println(greet.Hello()) }\n",
		"greet/greet.go": "package greet\n\nimport \"embed\"\n\n//go:embed hello.txt static\nvar files embed.FS\n\n" +
			"func Hello() string { b, _ := files.ReadFile(\"hello.txt\"); return string(b) }\n",
		"greet/hello.txt":      "hello\n",
		"greet/static/a.css":   "a {}\n",
		"greet/other_os.go":    "//go:build plan9\n\npackage greet\n",
		"greet/greet_test.go":  "package greet\n",
		"greet/notes.md":       "not embedded\n",
		"unused/unused.go":     "package unused\n",
		"cmd/app/testdata/x":   "test data\n",
		"greet/static/sub/b.c": "embedded too\n",
	}
	for name, content := range files {
		writeFile(t, filepath.Join(dir, name), content)
	}
	return dir
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func fixtureTarget(t *testing.T, root string, s version.Stamp, p platform.Platform) target {
	t.Helper()
	ld, err := LDFlags(s)
	if err != nil {
		t.Fatal(err)
	}
	return target{root: root, goVersion: "go version go1.26.8 linux/amd64", env: Env(p),
		args: Args(ld, filepath.Join(p.DirName(), p.BinaryName()), "./cmd/app")}
}

// TestManifest checks both decisions the manifest makes after each change to the fixture:
// whether the fast path (replay, no `go list`) still calls the binary current, and whether the
// inputs that decide a rebuild changed.
func TestManifest(t *testing.T) {
	ctx := context.Background()
	root := fixture(t)
	linux := platform.Platform{OS: "linux", Arch: "amd64"}
	tgt := fixtureTarget(t, root, stamp, linux)
	get := func(tg target) []byte {
		t.Helper()
		m, err := manifest(ctx, tg)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	prev := get(tgt)
	if !bytes.Equal(prev, get(tgt)) || !bytes.Equal(replay(prev, tgt), prev) {
		t.Fatal("manifest or its replay differs with nothing changed")
	}
	for _, want := range []string{"file greet/hello.txt", "file greet/static/a.css", "file greet/static/sub/b.c", "watch greet/static/sub "} {
		if !bytes.Contains(prev, []byte(want)) {
			t.Errorf("manifest lacks %q:\n%s", want, prev)
		}
	}
	for _, notWant := range []string{"unused", "greet_test.go", "other_os.go", "notes.md", "testdata"} {
		if bytes.Contains(decisive(prev), []byte(notWant)) {
			t.Errorf("manifest inputs list %q, which the binary does not use:\n%s", notWant, prev)
		}
	}

	for _, c := range []struct {
		name          string
		file, content string        // a file of the fixture to write, or
		target        func() target // another build command
		notices       bool          // replay no longer matches: the fast path runs `go list`
		rebuild       bool          // the inputs proper changed
	}{
		{name: "package main does not import", file: "unused/unused.go", content: "package unused\n\nvar Y = 2\n"},
		{name: "test data of main", file: "cmd/app/testdata/x", content: "changed\n"},
		{name: "test file", file: "greet/greet_test.go", content: "package greet\n\nvar T = 1\n", notices: true},
		{name: "file excluded by build tags", file: "greet/other_os.go",
			content: "//go:build plan9\n\npackage greet\n\nvar X = 1\n", notices: true},
		{name: "new file excluded by build tags", file: "greet/greet_windows.go", content: "package greet\n", notices: true},
		{name: "build constraint now selecting a file", file: "greet/other_os.go",
			content: "//go:build linux\n\npackage greet\n\nvar X = 1\n", notices: true, rebuild: true},
		{name: "go file", file: "cmd/app/main.go", notices: true, rebuild: true,
			content: "package main\n\nimport \"example.com/fixture/greet\"\n\nfunc main() { print(greet.Hello()) }\n"},
		{name: "embedded file", file: "greet/hello.txt", content: "bonjour\n", notices: true, rebuild: true},
		{name: "new file in an embedded directory tree", file: "greet/static/sub/new.js", content: "x\n", notices: true, rebuild: true},
		{name: "go.mod", file: "go.mod", content: "module example.com/fixture\n\ngo 1.26.0\n", notices: true, rebuild: true},
		{name: "go.sum", file: "go.sum", content: "", notices: true, rebuild: true},
		{name: "version", notices: true, rebuild: true, target: func() target {
			s := stamp
			s.Version = "v1.2.4"
			return fixtureTarget(t, root, s, linux)
		}},
		{name: "flags", notices: true, rebuild: true, target: func() target {
			tg := tgt
			tg.args = append(slices.Clone(tg.args[:len(tg.args)-1]), "-tags=extra", "./cmd/app")
			return tg
		}},
		{name: "go version", notices: true, rebuild: true, target: func() target {
			tg := tgt
			tg.goVersion = "go version go1.26.9 linux/amd64"
			return tg
		}},
		{name: "platform", notices: true, rebuild: true, target: func() target {
			return fixtureTarget(t, root, stamp, platform.Platform{OS: "linux", Arch: "arm64"})
		}},
	} {
		tg := tgt
		if c.file != "" {
			writeFile(t, filepath.Join(root, c.file), c.content)
		}
		if c.target != nil {
			tg = c.target()
		}
		if notices := !bytes.Equal(replay(prev, tg), prev); notices != c.notices {
			t.Errorf("%s: replay noticed the change = %v, want %v", c.name, notices, c.notices)
		}
		now := get(tg)
		if rebuild := !bytes.Equal(decisive(now), decisive(prev)); rebuild != c.rebuild {
			t.Errorf("%s: rebuild = %v, want %v", c.name, rebuild, c.rebuild)
		}
		prev = get(tgt) // the new baseline: file changes persist
	}
}

// `go env -w` settings (the go env file) change neither the binary nor its record: GOFLAGS
// with a build tag, GOEXPERIMENT and GOAMD64 there would each change the bytes, and a GOPROXY's
// credentials must not be written to dist/.
func TestGoEnvFileOutOfPlay(t *testing.T) {
	ctx := context.Background()
	root := fixture(t)
	writeFile(t, filepath.Join(root, "greet/foo.go"), "//go:build foo\n\npackage greet\n\nfunc init() { println(\"built with -tags=foo\") }\n")
	p := platform.Platform{OS: "linux", Arch: "amd64"}
	build := func(goEnv string) (bin, inputs []byte) {
		t.Helper()
		t.Setenv("GOENV", goEnv)
		dist := t.TempDir()
		if _, err := Build(ctx, Options{Root: root, Dist: dist, Main: "./cmd/app", Stamp: stamp, Platforms: []platform.Platform{p}}); err != nil {
			t.Fatal(err)
		}
		bin, err := os.ReadFile(filepath.Join(dist, p.DirName(), p.BinaryName()))
		if err != nil {
			t.Fatal(err)
		}
		inputs, err = os.ReadFile(filepath.Join(dist, p.DirName(), InputsFile))
		if err != nil {
			t.Fatal(err)
		}
		return bin, inputs
	}
	for _, k := range []string{"GOFLAGS", "GOEXPERIMENT", "GOAMD64", "GOPROXY"} {
		t.Setenv(k, "")
	}
	plainBin, plainInputs := build(filepath.Join(t.TempDir(), "none"))
	file := filepath.Join(t.TempDir(), "env")
	for _, setting := range []string{"GOFLAGS=-tags=foo", "GOEXPERIMENT=nogreenteagc", "GOAMD64=v3",
		"GOPROXY=https://user:s3cret@proxy.example/"} {
		writeFile(t, file, setting+"\n")
		bin, inputs := build(file)
		if !bytes.Equal(bin, plainBin) {
			t.Errorf("%s in the go env file changed the binary", setting)
		}
		if !bytes.Equal(inputs, plainInputs) {
			t.Errorf("%s in the go env file changed the record:\n%s\nwant\n%s", setting, inputs, plainInputs)
		}
	}
}

func TestBuildUpToDateAndRebuild(t *testing.T) {
	ctx := context.Background()
	root := fixture(t)
	var out bytes.Buffer
	o := Options{
		Root: root, Dist: filepath.Join(root, "dist"), Main: "./cmd/app", Stamp: stamp, Out: &out,
		Platforms: []platform.Platform{platform.Host(), {OS: "windows", Arch: "amd64"}},
	}
	res, err := Build(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.UpToDate || r.Size == 0 {
			t.Errorf("first build of %s: %+v, want a fresh binary", r.Platform, r)
		}
		if _, err := os.Stat(filepath.Join(o.Dist, r.Platform.DirName(), InputsFile)); err != nil {
			t.Errorf("%s: no %s after a successful build: %v", r.Platform, InputsFile, err)
		}
	}
	if _, err := os.Stat(filepath.Join(o.Dist, "slipway_windows_amd64", "slipway.exe")); err != nil {
		t.Errorf("windows binary not at dist/slipway_windows_amd64/slipway.exe: %v", err)
	}
	if !strings.Contains(out.String(), "2 platforms: 2 built, 0 up to date, 0 failed") {
		t.Errorf("summary missing from output:\n%s", out.String())
	}
	hostBin := res[0].Path
	before, _ := os.Stat(hostBin)

	out.Reset()
	res, err = Build(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !r.UpToDate {
			t.Errorf("second build of %s was not up to date", r.Platform)
		}
	}
	if after, _ := os.Stat(hostBin); !after.ModTime().Equal(before.ModTime()) {
		t.Error("an up-to-date build rewrote the binary")
	}
	if !strings.Contains(out.String(), "up to date") {
		t.Errorf("output does not say up to date:\n%s", out.String())
	}

	// Only the platform whose inputs changed rebuilds: a file for windows only.
	writeFile(t, filepath.Join(root, "greet/win_windows.go"), "package greet\n\nvar Win = 1\n")
	res, err = Build(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].UpToDate || res[1].UpToDate {
		t.Errorf("after a windows-only change: host up to date=%v (want true), windows up to date=%v (want false)",
			res[0].UpToDate, res[1].UpToDate)
	}
	// The host's record was refreshed: its next check takes the fast path (no `go list`) again.
	ld, _ := LDFlags(stamp)
	j := newJob(o, res[0].Platform, ld, goVersion(t))
	recorded, err := os.ReadFile(filepath.Join(j.final, InputsFile))
	if err != nil || !bytes.Equal(replay(recorded, j.target), recorded) {
		t.Errorf("host record not refreshed after a change that did not affect it (err %v)", err)
	}
}

func goVersion(t *testing.T) string {
	t.Helper()
	v, err := run.Output(context.Background(), "go", "version")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// cancelOnWrite cancels a context when the build prints its first progress line.
type cancelOnWrite struct{ cancel context.CancelFunc }

func (c cancelOnWrite) Write(p []byte) (int, error) { c.cancel(); return len(p), nil }

// TestBuildInterrupted stops a rebuild of two platforms, one at a time, when the first one
// finishes: dist/ then holds that platform and nothing of the other, not its old binary.
func TestBuildInterrupted(t *testing.T) {
	root := fixture(t)
	dist := filepath.Join(root, "dist")
	ps := []platform.Platform{{OS: "linux", Arch: "amd64"}, {OS: "windows", Arch: "amd64"}}
	o := Options{Root: root, Dist: dist, Main: "./cmd/app", Stamp: stamp, Platforms: ps, Jobs: 1}
	if _, err := Build(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	o.Stamp.Version = "v1.2.4" // every platform is out of date
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o.Out = cancelOnWrite{cancel}
	res, err := Build(ctx, o)
	var done, stopped []string
	for _, r := range res {
		if r.Err == nil {
			done = append(done, r.Platform.DirName())
		} else {
			stopped = append(stopped, r.Platform.DirName())
		}
	}
	if err == nil || len(done) != 1 || len(stopped) != 1 {
		t.Fatalf("interrupted build: err = %v, finished %v, stopped %v; want one of each", err, done, stopped)
	}
	entries, _ := os.ReadDir(dist)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, done) {
		t.Errorf("dist/ after the interruption holds %v, want only %v", names, done)
	}
	if m, _ := os.ReadFile(filepath.Join(dist, done[0], InputsFile)); !bytes.Contains(m, []byte("Version=v1.2.4")) {
		t.Errorf("%s holds a binary of the old version:\n%s", done[0], m)
	}
}

func TestBuildFailureLeavesNoDist(t *testing.T) {
	ctx := context.Background()
	root := fixture(t)
	dist := filepath.Join(root, "dist")
	p := platform.Platform{OS: "linux", Arch: "arm64"}
	o := Options{Root: root, Dist: dist, Main: "./cmd/app", Stamp: stamp, Platforms: []platform.Platform{p}}
	if _, err := Build(ctx, o); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "greet/greet.go"), "package greet\n\nfunc Hello() string { return \n")
	_, err := Build(ctx, o)
	if err == nil {
		t.Fatal("Build succeeded on a syntax error")
	}
	for _, want := range []string{"build linux/arm64 failed", "greet/greet.go:4:1: syntax error"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
	entries, _ := os.ReadDir(dist)
	if len(entries) != 0 {
		t.Errorf("dist/ after a failed build holds %v, want nothing (no stale binary, no temp dir)", entries)
	}
}

// BenchmarkUpToDate is a no-op build of the whole default matrix: the goal is well under 0.5 s,
// which needs the fast path (no `go list`, about 0.4 s a platform).
func BenchmarkUpToDate(b *testing.B) {
	root := fixture(b)
	o := Options{Root: root, Dist: filepath.Join(root, "dist"), Main: "./cmd/app", Stamp: stamp, Platforms: platform.Default}
	if _, err := Build(context.Background(), o); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		res, err := Build(context.Background(), o)
		if err != nil || !res[0].UpToDate {
			b.Fatalf("no-op build: %v, %+v", err, res[0])
		}
	}
}

// `go list -json=<fields>` leaves out every field not named: a field added to goPackage but not
// to listFields would silently stay empty and its files would never count as inputs.
func TestListFieldsCoverGoPackage(t *testing.T) {
	named := strings.Split(listFields, ",")
	typ := reflect.TypeFor[goPackage]()
	for i := range typ.NumField() {
		if f := typ.Field(i).Name; !slices.Contains(named, f) {
			t.Errorf("goPackage.%s is not in listFields", f)
		}
	}
}
