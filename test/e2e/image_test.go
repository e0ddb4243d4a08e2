//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/gobuild"
	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/docker"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools/toolstest"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/version"
	"github.com/slipway-dev/slipway/internal/pipeline/offline/standin"
)

// imageFixture is what the image tests share: the offline stand-ins in a registry of the test's
// own, this checkout's linux binary built as `mage build` builds it, and an image.Local that
// tags images under a name of its own (removed at the end), so a developer's slipway:dev is
// never touched.
type imageFixture struct {
	root, arch, registry string
	binary               string
	local                *image.Local
}

func newImageFixture(t testing.TB, out io.Writer) *imageFixture {
	t.Helper()
	ctx := context.Background()
	root := projecttest.Root(t)
	f := &imageFixture{root: root, arch: runtime.GOARCH, registry: startRegistry(t)}
	crane := toolstest.Path(t, "crane")
	// The package cache is the checkout's, so the Debian packages are fetched once per machine.
	if _, err := standin.Build(ctx, standin.Options{Crane: crane, Registry: f.registry,
		Cache: filepath.Join(project.StateDir(root), "standin"), Out: out}); err != nil {
		t.Fatal(err)
	}
	stamp, err := version.Describe(ctx, root, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := platform.Parse("linux/" + f.arch)
	if err != nil {
		t.Fatal(err)
	}
	bins, err := gobuild.Build(ctx, gobuild.Options{Root: root, Dist: t.TempDir(), Platforms: []platform.Platform{p}, Stamp: stamp})
	if err != nil {
		t.Fatal(err)
	}
	f.binary = bins[0].Path
	repo := "slipway-e2e-" + randomHex(t)
	t.Cleanup(func() { removeImages(t, repo) })
	f.local = &image.Local{Repo: repo, Root: root, Stamp: stamp, Out: out,
		Source: image.Source{Mirror: f.registry + "/" + image.StandInPrefix, StandIns: true, Crane: crane}}
	return f
}

// TestImages builds both Dockerfiles offline through the stand-ins and runs what they make.
func TestImages(t *testing.T) {
	f := newImageFixture(t, testWriter{t})
	ctx := context.Background()

	t.Run("distroless", func(t *testing.T) {
		info, err := f.local.Distroless(ctx, f.binary, f.arch)
		if err != nil {
			t.Fatal(err)
		}
		checkConfig(t, info, f.local.Stamp, shipped)
		if got, want := fileInImage(t, f.local.Repo+":dev", shipped.entrypoint), sha256File(t, f.binary); got != want {
			t.Errorf("the image's binary (sha256 %s) differs from mage's (%s)", got, want)
		}
		st, err := os.Stat(f.binary)
		if err != nil {
			t.Fatal(err)
		}
		if limit := st.Size() + 5<<19; info.Size > limit { // binary + 2.5 MiB
			t.Errorf("distroless image is %s, more than the binary (%s) + 2.5 MiB", image.MiB(info.Size), image.MiB(st.Size()))
		}
		// The stand-in's label comes through to the image built on it, so a release sees it.
		ref := f.local.Repo + ":dev"
		if err := image.CheckShippable(ref, info.Config.Labels, settings.Settings{}); err == nil {
			t.Errorf("an image built on a stand-in (labels %v) passes as shippable outside offline mode", info.Config.Labels)
		}
		if err := image.CheckShippable(ref, info.Config.Labels, settings.Settings{Offline: true}); err != nil {
			t.Errorf("offline mode must accept it: %v", err)
		}
		checkRunning(t, f.local.Repo+":dev", shipped.entrypoint, nil)
	})

	t.Run("alpine from source", func(t *testing.T) {
		info, err := f.local.FromSource(ctx, f.arch)
		if err != nil {
			t.Fatal(err)
		}
		checkConfig(t, info, f.local.Stamp, fromSource)
		tag := f.local.Repo + ":dev-alpine"
		// Same toolchain, flags and stamp as `mage build`: the same bytes.
		if got, want := fileInImage(t, tag, "/usr/local/bin/slipway"), sha256File(t, f.binary); got != want {
			t.Errorf("the Dockerfile's binary (sha256 %s) differs from mage's (%s)", got, want)
		}
		// Alpine has a shell, so the hardening shows from inside too.
		checkRunning(t, tag, fromSource.entrypoint, func(c string) {
			if out := dockerExec(t, c, "id", "-u"); out != "65532" {
				t.Errorf("runs as uid %s, want 65532", out)
			}
			if out, err := dockerExecErr(c, "touch", "/usr/local/bin/x"); err == nil || !strings.Contains(out, "Read-only file system") {
				t.Errorf("writing to the root file system: %v %s, want a read-only error", err, out)
			}
			dockerExec(t, c, "touch", "/tmp/x") // the tmpfs is writable
			if out := dockerExec(t, c, "head", "-c", "27", "/etc/ssl/certs/ca-certificates.crt"); out != "-----BEGIN CERTIFICATE-----" {
				t.Errorf("no CA bundle in the runtime image: %q", out)
			}
		})
	})

	t.Run("rebuild after a Go change reuses the module download", func(t *testing.T) {
		l, progress := stagedSource(t, f, false)
		if _, err := l.FromSource(ctx, f.arch); err != nil {
			t.Fatal(err)
		}
		oneLineChange(t, l.Root)
		progress.Reset()
		if _, err := l.FromSource(ctx, f.arch); err != nil {
			t.Fatal(err)
		}
		out := progress.String()
		if s := stepStatus(out, "go mod download"); s != "CACHED" {
			t.Errorf("go mod download after a Go change: %s, want CACHED\n%s", s, out)
		}
		if s := stepStatus(out, "go build"); s != "DONE" {
			t.Errorf("go build after a Go change: %s, want DONE (it must run again)\n%s", s, out)
		}
	})

	t.Run("a container that is not ready fails with its logs", func(t *testing.T) {
		name := "slipway-e2e-" + randomHex(t)
		t.Cleanup(func() { _ = (docker.CLI{}).Remove(context.Background(), name) })
		c, err := image.Start(ctx, image.RunOptions{Image: f.local.Repo + ":dev", Name: name, Env: []string{"SLIPWAY_ADDR=no-port"}})
		if err != nil {
			t.Fatal(err)
		}
		err = c.WaitReady(ctx, 20*time.Second)
		if err == nil || !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "invalid address") {
			t.Errorf("want an error with the container's exit and its log line about the address, got %v", err)
		}
	})

	t.Run("docker:run end to end", func(t *testing.T) { dockerRunEndToEnd(t, f) })
}

// imageShape is what differs between the two images: the one releases ship has ko's layout (ko
// builds it in a release; Dockerfile.distroless lays out the same), which has no EXPOSE or
// HEALTHCHECK; the Alpine one from source keeps the classic layout.
type imageShape struct {
	entrypoint  string
	port        bool // EXPOSE 8080
	healthcheck bool
}

var (
	shipped    = imageShape{entrypoint: "/ko-app/slipway"}
	fromSource = imageShape{entrypoint: "/usr/local/bin/slipway", port: true, healthcheck: true}
)

// checkConfig asserts the image config a Dockerfile must produce.
func checkConfig(t *testing.T, info image.Info, stamp version.Stamp, shape imageShape) {
	t.Helper()
	c := info.Config
	if c.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532", c.User)
	}
	if strings.Join(c.Entrypoint, " ") != shape.entrypoint {
		t.Errorf("entrypoint %q, want %s", c.Entrypoint, shape.entrypoint)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; ok != shape.port || len(c.ExposedPorts) > 1 {
		t.Errorf("exposed ports %v, want 8080/tcp: %v", c.ExposedPorts, shape.port)
	}
	want := "CMD " + shape.entrypoint + " healthcheck"
	if got := c.Healthcheck != nil && strings.Join(c.Healthcheck.Test, " ") == want; got != shape.healthcheck {
		t.Errorf("healthcheck %+v, want %q: %v", c.Healthcheck, want, shape.healthcheck)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.version":  stamp.Version,
		"org.opencontainers.image.revision": stamp.Commit,
		"org.opencontainers.image.created":  stamp.Date,
		"org.opencontainers.image.source":   "https://github.com/slipway-dev/slipway",
		"org.opencontainers.image.title":    "slipway",
	} {
		if c.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], want)
		}
	}
	if info.Architecture != runtime.GOARCH {
		t.Errorf("architecture %s", info.Architecture)
	}
}

// checkRunning runs the image hardened, checks it from the host and from inside (inside, if not
// nil, adds checks of its own), then stops it as `docker stop` would.
func checkRunning(t *testing.T, ref, entrypoint string, inside func(container string)) {
	t.Helper()
	ctx := context.Background()
	name := "slipway-e2e-" + randomHex(t)
	t.Cleanup(func() { _ = (docker.CLI{}).Remove(context.Background(), name) })
	const drain = time.Second
	c, err := image.Start(ctx, image.RunOptions{Image: ref, Name: name, Env: []string{"SLIPWAY_DRAIN_DELAY=" + drain.String()}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.URL, "http://127.0.0.1:") {
		t.Errorf("published on %s, want loopback only", c.URL)
	}
	resp, err := http.Get(c.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %s", resp.Status)
	}

	// The process as the kernel sees it: non-root, no capabilities, no privilege escalation,
	// root file system mounted read-only.
	pid := dockerOut(t, "inspect", "--format", "{{.State.Pid}}", name)
	status := readProc(t, pid, "status")
	for _, want := range []string{`Uid:\s+65532\s+65532\s+65532\s+65532`, `Gid:\s+65532\s`, `CapEff:\s+0+\n`, `CapPrm:\s+0+\n`, `NoNewPrivs:\s+1`} {
		if !regexp.MustCompile(want).MatchString(status) {
			t.Errorf("/proc/%s/status lacks %s:\n%s", pid, want, status)
		}
	}
	if !regexp.MustCompile(`(?m)^\S+ \S+ \S+ / / ro[,\s]`).MatchString(readProc(t, pid, "mountinfo")) {
		t.Errorf("the root file system is not mounted read-only")
	}

	// The image's own healthcheck command: healthy while the server answers, unhealthy when
	// pointed where nothing listens.
	dockerExec(t, name, entrypoint, "healthcheck")
	if out, err := exec.Command("docker", "exec", "-e", "SLIPWAY_ADDR=127.0.0.1:9", name, entrypoint, "healthcheck").CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "unhealthy") {
		t.Errorf("healthcheck against a closed port: %v %s, want unhealthy and a failure", err, out)
	}

	if inside != nil {
		inside(name)
	}

	// docker stop: SIGTERM, readiness off, drain, shutdown, exit 0, well inside the grace period.
	start := time.Now()
	code, err := image.Stop(ctx, name, image.StopGrace)
	took := time.Since(start)
	if err != nil || code != 0 {
		t.Errorf("docker stop: exit code %d, %v", code, err)
	}
	if took < drain || took > drain+10*time.Second {
		t.Errorf("docker stop took %s, want between the drain delay (%s) and drain + shutdown timeout", took, drain)
	}
}

// dockerRunEndToEnd drives `mage docker:run` as a person would: start, ready, request, Ctrl-C.
func dockerRunEndToEnd(t *testing.T, f *imageFixture) {
	ctx := context.Background()
	if (docker.CLI{}).Exists(ctx, image.DevContainer) {
		t.Fatalf("a %s container exists already: `mage docker:stop` it before running the tests", image.DevContainer)
	}
	clone := freshClone(t)
	stamp, err := version.Describe(ctx, clone, "")
	if err != nil {
		t.Fatal(err)
	}
	// docker:run tags slipway:dev and slipway:<version>: afterwards, put back what the tags
	// pointed at before, and remove the images the test made.
	tags := []string{image.DevTag, project.Name + ":" + image.VersionTag(stamp.Version)}
	before := map[string]string{}
	for _, ref := range tags {
		before[ref] = imageID(ref)
	}
	t.Cleanup(func() {
		_ = (docker.CLI{}).Remove(context.Background(), image.DevContainer)
		for _, ref := range tags {
			made := imageID(ref)
			if before[ref] != "" {
				_ = dockerErr("tag", before[ref], ref)
			} else {
				_ = dockerErr("rmi", ref)
			}
			if made != "" && made != before[ref] {
				_ = dockerErr("rmi", made) // fails, harmlessly, while another tag still names it
			}
		}
	})
	bin := filepath.Join(t.TempDir(), "mage")
	if out, err := runMage(clone, nil, "-compile="+bin); err != nil {
		t.Fatalf("compiling the magefile: %v\n%s", err, out)
	}
	port := freePort(t)
	cmd := exec.Command(bin, "docker:run")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group, as a terminal's job
	cmd.Dir = clone
	cmd.Env = append(os.Environ(), "SLIPWAY_OFFLINE=1", "SLIPWAY_REGISTRY_ADDR="+f.registry, "SLIPWAY_IMAGE_MIRROR=",
		"PORT="+strconv.Itoa(port), "DETACH=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	var all bytes.Buffer
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// wait reads output until a line contains want.
	wait := func(want string, limit time.Duration) {
		t.Helper()
		deadline := time.After(limit)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("docker:run ended before printing %q:\n%s", want, all.String())
				}
				all.WriteString(l + "\n")
				if strings.Contains(l, want) {
					return
				}
			case <-deadline:
				t.Fatalf("docker:run did not print %q within %s:\n%s", want, limit, all.String())
			}
		}
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	wait("is ready: "+url, 10*time.Minute) // includes building the binary and the image in the clone
	if !strings.Contains(all.String(), "OFFLINE STAND-IN") {
		t.Errorf("docker:run did not say loudly that it built on a stand-in:\n%s", all.String())
	}
	resp, err := http.Get(url + "/v1/greet?name=Ada")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v1/greet: %s", resp.Status)
	}
	// The access log line arrives formatted, not as raw JSON.
	wait("path=/v1/greet", 10*time.Second)
	// Ctrl-C: the terminal signals the whole foreground job, `docker logs` included.
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	wait("stopped (exit code 0) and removed", 10*time.Second)
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("docker:run after Ctrl-C: %v\n%s", err, all.String())
	}
	if (docker.CLI{}).Exists(ctx, image.DevContainer) {
		t.Errorf("container %s is still there after Ctrl-C", image.DevContainer)
	}
}

// stagedSource copies what the multi-stage Dockerfile builds from into a directory of its own,
// so the test can change a Go file without touching the checkout. Without cache mounts, the
// Dockerfile's RUN --mount=type=cache options are removed (the comparison the benchmark makes).
func stagedSource(t testing.TB, f *imageFixture, noCacheMounts bool) (*image.Local, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	for _, p := range []string{"go.mod", "go.sum", ".dockerignore", "Dockerfile", "cmd", "internal"} {
		if out, err := exec.Command("cp", "-a", filepath.Join(f.root, p), dir).CombinedOutput(); err != nil {
			t.Fatalf("copying %s: %v %s", p, err, out)
		}
	}
	if noCacheMounts {
		df := filepath.Join(dir, "Dockerfile")
		text, err := os.ReadFile(df)
		if err != nil {
			t.Fatal(err)
		}
		stripped, err := image.WithoutCacheMounts(string(text))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(stripped, "type=cache") {
			t.Fatal("cache mounts left in the Dockerfile after stripping")
		}
		if err := os.WriteFile(df, []byte(stripped), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var progress bytes.Buffer
	l := *f.local
	l.Root, l.Out = dir, &progress
	return &l, &progress
}

// oneLineChange adds one line of Go to the service's main package: a new value, so the
// package (and the binary) must be compiled again.
func oneLineChange(t testing.TB, root string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(root, "cmd", "slipway", "main.go"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "\nvar _ = %q\n", "e2e-"+randomHex(t)); err != nil {
		t.Fatal(err)
	}
}

// stepStatus finds the BuildKit step (plain progress) whose command contains cmd and returns
// CACHED, DONE or ERROR.
func stepStatus(progress, cmd string) string {
	for _, m := range regexp.MustCompile(`(?m)^(#\d+) \[[^\]]+\] RUN .*$`).FindAllStringSubmatch(progress, -1) {
		if !strings.Contains(m[0], cmd) {
			continue
		}
		for _, s := range []string{"CACHED", "DONE", "ERROR"} {
			if regexp.MustCompile(`(?m)^` + m[1] + ` ` + s).MatchString(progress) {
				return s
			}
		}
		return "no status"
	}
	return "not found"
}

// BenchmarkSourceRebuild times `docker:source` after a one-line Go change, with the Dockerfile's
// cache mounts and without them (then the go build starts from an empty build cache):
//
//	go test -tags e2e -run '^$' -bench SourceRebuild -benchtime 2x ./test/e2e
func BenchmarkSourceRebuild(b *testing.B) {
	f := newImageFixture(b, io.Discard)
	for _, bc := range []struct {
		name          string
		noCacheMounts bool
	}{{"cache-mounts", false}, {"no-cache-mounts", true}} {
		b.Run(bc.name, func(b *testing.B) {
			l, _ := stagedSource(b, f, bc.noCacheMounts)
			if _, err := l.FromSource(context.Background(), f.arch); err != nil { // warm: everything but the change
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				oneLineChange(b, l.Root)
				b.StartTimer()
				if _, err := l.FromSource(context.Background(), f.arch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDistrolessBuild times docker:build's image step with nothing changed (warm): what
// docker:run pays to find the image up to date.
//
//	go test -tags e2e -run '^$' -bench DistrolessBuild -benchtime 5x ./test/e2e
func BenchmarkDistrolessBuild(b *testing.B) {
	f := newImageFixture(b, io.Discard)
	if _, err := f.local.Distroless(context.Background(), f.binary, f.arch); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := f.local.Distroless(context.Background(), f.binary, f.arch); err != nil {
			b.Fatal(err)
		}
	}
}

func randomHex(t testing.TB) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func removeImages(t testing.TB, repo string) {
	refs, err := exec.Command("docker", "images", "--format", "{{.Repository}}:{{.Tag}}", repo).Output()
	if err != nil {
		t.Errorf("listing %s images: %v", repo, err)
		return
	}
	for _, ref := range strings.Fields(string(refs)) {
		if err := dockerErr("rmi", ref); err != nil {
			t.Errorf("removing %s: %v", ref, err)
		}
	}
}

// imageID is the ID a tag names, or "" if there is no such image.
func imageID(ref string) string {
	out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Id}}", ref).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func fileInImage(t *testing.T, ref, path string) string {
	t.Helper()
	id := dockerOut(t, "create", ref)
	defer dockerErr("rm", id)
	dst := filepath.Join(t.TempDir(), "file")
	dockerOut(t, "cp", id+":"+path, dst)
	return sha256File(t, dst)
}

func sha256File(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(data))
}

func readProc(t *testing.T, pid, file string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("/proc", pid, file))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func dockerOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func dockerErr(args ...string) error {
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func dockerExec(t *testing.T, container string, args ...string) string {
	t.Helper()
	out, err := dockerExecErr(container, args...)
	if err != nil {
		t.Fatalf("docker exec %s %s: %v\n%s", container, strings.Join(args, " "), err, out)
	}
	return out
}

func dockerExecErr(container string, args ...string) (string, error) {
	out, err := exec.Command("docker", append([]string{"exec", container}, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
