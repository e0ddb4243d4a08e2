package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slipway-dev/slipway/internal/config"
	"github.com/slipway-dev/slipway/internal/server"
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

// serveCase compares the service with its full middleware stack (request IDs, access log,
// metrics, recovery, the real server's timeouts) against a bare net/http handler that answers
// the same JSON, both in this process on loopback, loaded by the Go load generator below.
func serveCase(ctx context.Context, b *bencher) ([]Result, error) {
	r := Result{Case: "serve", Title: fmt.Sprintf("GET %s on loopback, %d keep-alive connections, %d requests a run (after %d warm-up), server and load generator in one process",
		servePath, serveConns(), serveRequests, serveWarmup)}
	full, stopFull, err := startFullStack(ctx)
	if err != nil {
		return []Result{r}, err
	}
	defer stopFull()
	bare, stopBare, err := startBare()
	if err != nil {
		return []Result{r}, err
	}
	defer stopBare()
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
	r.ratioGoal("full stack ≥ 0.85× bare req/s", cs[0].name, cs[1].name, "req/s", 0.85, false)
	r.Notes = append(r.Notes, "The full stack encodes its JSON access log as in production but writes it to io.Discard: what a terminal or log collector reading stdout costs is left out.")
	return []Result{r}, nil
}

// startFullStack runs internal/server as cmd/slipway does, with the defaults and no drain
// delay (nothing to drain from when the bench stops it). It returns the base URL.
func startFullStack(ctx context.Context) (string, func(), error) {
	env := map[string]string{config.EnvPrefix + "DRAIN_DELAY": "0s"}
	cfg, err := config.Parse("slipway", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	s := server.New(cfg, slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: cfg.LogLevel})))
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = s.Serve(sctx, ln, nil); close(done) }()
	return "http://" + ln.Addr().String(), func() { cancel(); <-done }, nil
}

// startBare serves the same answer from a plain handler on a plain mux: the limit.
func startBare() (string, func(), error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/greet", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"message": "Hello, " + r.URL.Query().Get("name") + "!"})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	// The real server's timeouts, so the listener setup is not what differs.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: server.ReadTimeout,
		WriteTimeout: server.WriteTimeout, IdleTimeout: server.IdleTimeout, MaxHeaderBytes: server.MaxHeaderBytes}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
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
