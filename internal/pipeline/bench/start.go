package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/docker"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
)

// noopDockerfile is the no-op image: ./noop, a static program that exits at once, FROM scratch
// (nothing to pull). gobuild names every binary after the service.
const noopDockerfile = "FROM scratch\nCOPY " + project.Name + " /noop\nUSER 65532:65532\nENTRYPOINT [\"/noop\"]\n"

// startCase times `docker run --detach` of the distroless image until /readyz answers 200
// against `docker run --detach` of a no-op static image, which returns once the engine has
// started its process: the engine's own cost of a container, the floor of any service's start.
func startCase(ctx context.Context, b *bencher) ([]Result, error) {
	r := Result{Case: "start", Title: "container start: docker run to /readyz 200, hardened flags, port published on 127.0.0.1"}
	fmt.Fprintln(b.out, "  building slipway-bench:dev (distroless) and slipway-bench:noop (not timed)")
	if _, _, err := b.distroless(ctx); err != nil {
		return []Result{r}, err
	}
	noop, err := b.noopImage(ctx)
	if err != nil {
		return []Result{r}, err
	}
	cs := []contender{
		{name: "slipway (distroless) to /readyz", role: "subject", run: func(ctx context.Context, rep int) (map[string]float64, error) {
			return startOnce(ctx, imageRepo+":dev", rep, true)
		}},
		{name: "no-op static image started", role: "limit", run: func(ctx context.Context, rep int) (map[string]float64, error) {
			return startOnce(ctx, noop, rep, false)
		}},
	}
	if r.Series, err = measure(ctx, b.out, b.o.Reps, cs, seconds); err != nil {
		return []Result{r}, err
	}
	r.ratioGoal("start to /readyz ≤ 1.3× a no-op container", cs[0].name, cs[1].name, "time", 1.3, true)
	return []Result{r}, nil
}

// noopImage builds slipway-bench:noop and returns its reference.
func (b *bencher) noopImage(ctx context.Context) (string, error) {
	bin, err := b.binary(ctx, hostLinux(), "./internal/pipeline/bench/noop")
	if err != nil {
		return "", err
	}
	dir, err := b.scratch("noop-")
	if err != nil {
		return "", err
	}
	df, err := writeFile(dir, "Dockerfile", noopDockerfile)
	if err != nil {
		return "", err
	}
	ref := imageRepo + ":noop"
	if _, err := b.buildDockerfile(ctx, image.BuildOptions{
		Dockerfile: df, Context: filepath.Dir(bin.Path), Platform: hostLinux().String(), Tags: []string{ref},
	}); err != nil {
		return "", err
	}
	return ref, nil
}

// startOnce times one detached container, started as docker:run starts it (hardened, the port
// published on loopback), until docker run returns and, with ready, until /readyz is 200. The
// container is removed afterwards, outside the time.
func startOnce(ctx context.Context, ref string, rep int, ready bool) (map[string]float64, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	o := image.RunOptions{Image: ref, Name: fmt.Sprintf("%s-start-%d-%d", imageRepo, rep+1, time.Now().UnixNano()%1e6), Port: port}
	defer func() { _ = (docker.CLI{}).Remove(context.WithoutCancel(ctx), o.Name) }()
	t0 := time.Now()
	if err := (docker.CLI{}).Run(ctx, o.Args()); err != nil {
		return nil, err
	}
	if ready {
		if err := pollReady(ctx, "http://127.0.0.1:"+strconv.Itoa(port)+"/readyz", 30*time.Second); err != nil {
			return nil, fmt.Errorf("container %s: %w; see `docker logs %s` while it runs", o.Name, err, o.Name)
		}
	}
	return map[string]float64{"time": time.Since(t0).Seconds()}, nil
}

// pollReady asks url every 5 ms until it answers 200: finer than image.WaitReady's 200 ms,
// which would round every start up to its step.
func pollReady(ctx context.Context, url string, timeout time.Duration) error {
	client := http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ok, err := image.Ready(ctx, &client, url); ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer 200 within %s", url, timeout)
}

// freePort asks the kernel for a free loopback port. Another process could take it before
// docker does; then docker run fails and says so.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
