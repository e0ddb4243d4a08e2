// Command slipway is the reference service: `slipway [serve]` runs it, `slipway healthcheck`
// probes a running one (for images with no shell or curl), `slipway version` prints the stamp.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	// A FROM scratch image has no zoneinfo and no CA bundle: carry both in the binary.
	_ "golang.org/x/crypto/x509roots/fallback"
	_ "time/tzdata"

	"github.com/slipway-dev/slipway/internal/buildinfo"
	"github.com/slipway-dev/slipway/internal/config"
	"github.com/slipway-dev/slipway/internal/server"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	// The first SIGTERM or Ctrl-C starts a graceful shutdown; a second one ends the process at
	// once, killed by that signal as if it were not handled. Both go through one buffered
	// channel, so a second signal that comes right after the first is never lost.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-sigs
		cancel()
		second := <-sigs
		signal.Reset(syscall.SIGTERM, os.Interrupt)
		if p, err := os.FindProcess(os.Getpid()); err != nil || p.Signal(second) != nil {
			os.Exit(1) // a platform that cannot signal itself (Windows and os.Interrupt)
		}
	}()
	os.Exit(run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// run is main without the process: tests call it with their own arguments, environment
// (KEY=value lines) and context (cancelled by SIGTERM or Ctrl-C in main). It returns the exit
// status: 0 ok (including a clean shutdown), 1 failure, 2 bad configuration.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && (args[0] == "serve" || args[0] == "healthcheck" || args[0] == "version") {
		cmd, args = args[0], args[1:]
	}
	if cmd == "version" {
		fmt.Fprintln(stdout, buildinfo.Get())
		return 0
	}
	cfg, err := config.Parse("slipway", args, getenv(environ), stdout)
	if errors.Is(err, config.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "slipway: "+err.Error())
		if cmd == "healthcheck" {
			return 1 // Docker reserves HEALTHCHECK status 2; to it, any failure is "unhealthy"
		}
		return 2
	}
	if cmd == "healthcheck" {
		return healthcheck(ctx, cfg.Addr, stderr)
	}
	log := newLogger(cfg, stdout) // logs are the service's output: a container runtime collects stdout
	// Only a warning: the same environment often carries variables meant for another version.
	for _, u := range config.UnknownEnv(environ) {
		attrs := []any{"variable", u.Name}
		if u.Nearest != "" {
			attrs = append(attrs, "did_you_mean", u.Nearest)
		}
		log.Warn("ignoring an environment variable that no setting reads (slipway --help lists them)", attrs...)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		log.Error("cannot listen (--addr, SLIPWAY_ADDR)", "addr", cfg.Addr, "error", err)
		return 1
	}
	var admin net.Listener
	if cfg.AdminAddr != "" {
		if admin, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
			ln.Close()
			log.Error("cannot listen (--admin-addr, SLIPWAY_ADMIN_ADDR)", "addr", cfg.AdminAddr, "error", err)
			return 1
		}
	}
	if err := server.New(cfg, log).Serve(ctx, ln, admin); err != nil {
		log.Error("server failed", "error", err)
		return 1
	}
	return 0
}

// getenv looks names up in environ, which holds each once (as os.Environ does).
func getenv(environ []string) func(string) string {
	vars := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	return func(k string) string { return vars[k] }
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// healthcheck asks the server on this machine (the same --addr or SLIPWAY_ADDR it was started
// with) for /healthz. Docker's HEALTHCHECK runs it inside the container, which has no curl.
func healthcheck(ctx context.Context, addr string, stderr io.Writer) int {
	host, port, _ := net.SplitHostPort(addr) // validated by config.Parse
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	url := "http://" + net.JoinHostPort(host, port) + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 1
	}
	// Never through an HTTP_PROXY from the environment: the target is this machine.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck: unhealthy:", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "healthcheck: unhealthy: %s answered %s\n", url, resp.Status)
		return 1
	}
	return 0
}
