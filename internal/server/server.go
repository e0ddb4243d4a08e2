// Package server is the service's HTTP surface: routes, middleware, health and graceful shutdown.
//
// The service writes no files. Code added to it that needs scratch space should use
// os.TempDir() ($TMPDIR, default /tmp): the only writable place in the hardened images and
// the Kubernetes manifest, whose root filesystems are read-only.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/slipway-dev/slipway/internal/buildinfo"
	"github.com/slipway-dev/slipway/internal/config"
)

// Limits of both listeners. A client gets ReadHeaderTimeout (configurable, the slowloris
// guard) for its headers and ReadTimeout for the whole request including a 1 MiB body on a slow
// link; a handler has WriteTimeout to answer; an idle keep-alive connection is closed after
// IdleTimeout. Headers over MaxHeaderBytes get 431.
const (
	ReadTimeout    = 30 * time.Second
	WriteTimeout   = 30 * time.Second
	IdleTimeout    = 120 * time.Second
	MaxHeaderBytes = 64 << 10
)

// Server is the service: a public listener, an optional admin listener and the readiness state.
type Server struct {
	cfg      config.Config
	log      *slog.Logger
	metrics  *prometheus.Registry
	ready    atomic.Bool
	handler  http.Handler
	timeouts timeouts
}

// timeouts are the limits above with the configured ReadHeaderTimeout; a field, so that tests
// can watch each one cut a connection off without waiting half a minute.
type timeouts struct{ readHeader, read, write, idle time.Duration }

// New builds the service. Nothing listens until Serve.
func New(cfg config.Config, log *slog.Logger) *Server {
	s := &Server{cfg: cfg, log: log, metrics: prometheus.NewRegistry(),
		timeouts: timeouts{readHeader: cfg.ReadHeaderTimeout, read: ReadTimeout, write: WriteTimeout, idle: IdleTimeout}}
	s.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.ready.Store(true)

	mux := http.NewServeMux()
	route(mux, "/healthz", map[string]http.Handler{"GET": http.HandlerFunc(healthz)})
	route(mux, "/readyz", map[string]http.Handler{"GET": http.HandlerFunc(s.readyz)})
	route(mux, "/version", map[string]http.Handler{"GET": http.HandlerFunc(version)})
	route(mux, "/metrics", map[string]http.Handler{"GET": s.metricsHandler()})
	route(mux, "/v1/greet", map[string]http.Handler{"GET": http.HandlerFunc(greetQuery), "POST": http.HandlerFunc(greetBody)})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, "no such path: "+clip(r.URL.Path))
	})
	s.handler = chain(mux, log, newHTTPMetrics(s.metrics))
	return s
}

// Handler is the public handler with its full middleware stack.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve answers on ln, and on admin unless it is nil, until ctx ends. Then it shuts down
// gracefully: readiness turns 503, serving goes on for DrainDelay so load balancers stop
// sending, then in-flight requests get up to ShutdownTimeout to finish. It returns nil after a
// clean shutdown. Listening is the caller's job, so a port conflict is reported before anything runs.
func (s *Server) Serve(ctx context.Context, ln, admin net.Listener) error {
	srv := s.httpServer(s.handler)
	servers := []*http.Server{srv}
	errc := make(chan error, 2)
	if admin != nil {
		// The same limits: a slow or idle client must not hold the admin port either. A CPU
		// profile or trace outlives WriteTimeout anyway: pprof extends its own write deadline
		// by the ?seconds= it is asked for.
		as := s.httpServer(s.adminHandler())
		servers = append(servers, as)
		go func() { errc <- as.Serve(admin) }()
		s.log.Info("admin listening", "addr", admin.Addr().String())
	}
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("listening", "addr", ln.Addr().String(), "version", buildinfo.Version)

	select {
	case err := <-errc: // a listener failed: stop the other one too
		for _, hs := range servers {
			_ = hs.Close()
		}
		return err
	case <-ctx.Done():
	}
	s.ready.Store(false)
	s.log.Info("shutting down: readiness is 503, still serving", "drain_delay", s.cfg.DrainDelay.String())
	time.Sleep(s.cfg.DrainDelay)

	s.log.Info("shutting down: waiting for in-flight requests", "shutdown_timeout", s.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, hs := range servers {
		if err := hs.Shutdown(sctx); err != nil {
			_ = hs.Close()
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("requests still running after --shutdown-timeout %s were cut off (raise it if they are legitimate): %w",
			s.cfg.ShutdownTimeout, err)
	}
	s.log.Info("stopped")
	return nil
}

func (s *Server) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.timeouts.readHeader,
		ReadTimeout:       s.timeouts.read,
		WriteTimeout:      s.timeouts.write,
		IdleTimeout:       s.timeouts.idle,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{Registry: s.metrics})
}

func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metricsHandler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// healthz is liveness: the process answers. It never checks dependencies, so a slow database
// cannot get every replica restarted at once.
func healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is readiness: whether to send this replica traffic. It turns 503 when shutdown begins.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if !s.ready.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func version(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, buildinfo.Get())
}

// route registers one handler per method for path, and a JSON 405 naming the allowed
// methods for any other (the mux's own 405 is plain text).
func route(mux *http.ServeMux, path string, byMethod map[string]http.Handler) {
	var allowed []string
	for m, h := range byMethod {
		mux.Handle(m+" "+path, h)
		allowed = append(allowed, m)
		if m == http.MethodGet { // a GET pattern serves HEAD too
			allowed = append(allowed, http.MethodHead)
		}
	}
	slices.Sort(allowed)
	allow := strings.Join(allowed, ", ")
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, r, http.StatusMethodNotAllowed, "method "+clip(r.Method)+" not allowed; use "+allow)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// errorBody is every error response: a message and the request ID to find the log line.
type errorBody struct {
	Error     string `json:"error"`
	RequestID string `json:"request_id,omitempty"`
}

func writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg, RequestID: RequestID(r.Context())})
}
