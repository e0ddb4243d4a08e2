package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
)

// Load of one repetition: a fixed number of keep-alive connections and a bounded number of
// requests, so every repetition does the same work and ends.
const (
	serveRequests = 50000
	serveWarmup   = 1000 // requests before the timed ones: connections open, caches warm
	servePath     = "/v1/greet?name=Ada"
)

func serveConns() int { return 2 * runtime.NumCPU() }

var serveUnits = []metricUnit{{"req/s", "req/s"}, {"p50", "ms"}, {"p99", "ms"}}

// serveCase compares the service, the binary build:all makes with its full middleware stack
// (request IDs, access log, metrics, recovery, the real server's timeouts), against a bare
// net/http handler that answers the same JSON (./bare). Each runs as a process of its own on
// loopback, loaded by the Go load generator below.
func serveCase(ctx context.Context, b *bencher) ([]Result, error) {
	r := Result{Case: "serve", Title: fmt.Sprintf("GET %s on loopback, %d keep-alive connections, %d requests a run (after %d warm-up), each server a process of its own",
		servePath, serveConns(), serveRequests, serveWarmup)}
	fmt.Fprintln(b.out, "  building the service and the bare server (not timed)")
	full, stopFull, err := b.startServer(ctx, "service", "", "/readyz",
		// No drain delay: nothing to drain from when the bench stops it.
		"--drain-delay", "0s")
	if err != nil {
		return []Result{r}, err
	}
	defer func() { _ = stopFull() }()
	bare, stopBare, err := b.startServer(ctx, "bare server", bareMain, servePath)
	if err != nil {
		return []Result{r}, err
	}
	defer func() { _ = stopBare() }()
	cs := []contender{
		{name: "full middleware stack", role: "subject", run: func(ctx context.Context, _ int) (map[string]float64, error) {
			return load(ctx, full+servePath, serveConns(), serveWarmup, serveRequests)
		}},
		{name: "bare net/http handler", role: "limit", run: func(ctx context.Context, _ int) (map[string]float64, error) {
			return load(ctx, bare+servePath, serveConns(), serveWarmup, serveRequests)
		}},
	}
	if r.Series, err = measure(ctx, b.out, b.o.Reps, cs, serveUnits); err != nil {
		return []Result{r}, err
	}
	if err := errors.Join(stopFull(), stopBare()); err != nil {
		return []Result{r}, err
	}
	r.ratioGoal("full stack ≥ 0.85× bare req/s", cs[0].name, cs[1].name, "req/s", 0.85, false)
	r.Notes = append(r.Notes, "The service encodes and writes its JSON access log as in production, to the null device: what a terminal or log collector reading stdout costs is left out.")
	return []Result{r}, nil
}

// bareMain is the serve case's limit, a main package of this module.
const bareMain = "./internal/pipeline/bench/bare"

// startServer builds main (the service's when empty) for this machine, starts it with
// --addr on a free loopback port and args, and waits until readyPath answers 200. It returns
// the base URL and a stop function (SIGTERM; an unclean stop is an error) that may be called
// more than once.
func (b *bencher) startServer(ctx context.Context, name, main, readyPath string, args ...string) (string, func() error, error) {
	bin, err := b.binary(ctx, platform.Host(), main)
	if err != nil {
		return "", nil, err
	}
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p, err := startProcess(ctx, name, bin.Path+".log", bin.Path, append([]string{"--addr", addr}, args...)...)
	if err != nil {
		return "", nil, err
	}
	stop := sync.OnceValue(func() error { return p.stop(addr, 10*time.Second) })
	url := "http://" + addr
	if err := p.waitReady(ctx, url+readyPath, 30*time.Second); err != nil {
		_ = stop()
		return "", nil, err
	}
	return url, stop, nil
}

// load sends warmup and then n GET requests to url over conns connections, each connection one
// goroutine sending its next request when the last answer arrived (a closed loop, like wrk),
// and returns req/s over the timed requests and their p50 and p99 latency in milliseconds.
func load(ctx context.Context, url string, conns, warmup, n int) (map[string]float64, error) {
	clients := make([]*http.Client, conns)
	for i := range clients {
		clients[i] = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, DisableCompression: true, Proxy: nil}}
		defer clients[i].CloseIdleConnections()
	}
	if err := fire(ctx, clients, url, warmup, nil); err != nil {
		return nil, err
	}
	lat := make([]float64, n)
	t0 := time.Now()
	if err := fire(ctx, clients, url, n, lat); err != nil {
		return nil, err
	}
	elapsed := time.Since(t0)
	return map[string]float64{
		"req/s": float64(n) / elapsed.Seconds(),
		"p50":   Percentile(lat, 50),
		"p99":   Percentile(lat, 99),
	}, nil
}

// fire sends n requests shared out over the clients; lat, when not nil, gets each latency in ms.
func fire(ctx context.Context, clients []*http.Client, url string, n int, lat []float64) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, len(clients))
	for c, client := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				if err := get(ctx, client, url); err != nil {
					errs[c] = err
					return
				}
				if lat != nil {
					lat[i] = float64(time.Since(t0)) / float64(time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return ctx.Err()
}

func get(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
