package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// chain wraps h in the middleware every request goes through, outermost first:
// request ID, access log, metrics, panic recovery.
func chain(h http.Handler, log *slog.Logger, m *httpMetrics) http.Handler {
	return withRequestID(withAccessLog(log, withMetrics(m, withRecovery(log, h))))
}

type ctxKey struct{}

// RequestID is the ID of the request that ctx belongs to.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// saneID reports whether an incoming ID is short and plain, so it cannot forge log lines or
// bloat them. (A loop, not a regexp: this runs on every request.)
func saneID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !saneID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, id)))
	})
}

// maxEchoed bounds each string a client chooses (a path, a method, a JSON field name) where the
// service repeats it, in a log line or an error body: a 60 KB path must not make a 60 KB log
// line. A longer one is cut to maxEchoed bytes and followed by "...(N bytes)", N its length.
const maxEchoed = 256

// clip bounds s to maxEchoed bytes, cut at a character boundary, marked with its full length.
func clip(s string) string {
	if len(s) <= maxEchoed {
		return s
	}
	n := maxEchoed
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:n], len(s))
}

// recorder remembers the status and size of a response for logs and metrics.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// record wraps w in a recorder, unless an outer middleware already did: one per request.
func record(w http.ResponseWriter) *recorder {
	if rec, ok := w.(*recorder); ok {
		return rec
	}
	return &recorder{ResponseWriter: w}
}

func (r *recorder) code() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// pattern is the route that matched (the mux sets it on the request), never the raw path:
// metric labels and log fields stay bounded whatever paths clients send.
func pattern(r *http.Request) string {
	if r.Pattern == "" || r.Pattern == "/" {
		return "unmatched"
	}
	return r.Pattern
}

func withAccessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := record(w)
		next.ServeHTTP(rec, r)
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("request_id", RequestID(r.Context())),
			slog.String("method", clip(r.Method)),
			slog.String("path", clip(r.URL.Path)),
			slog.String("route", pattern(r)),
			slog.Int("status", rec.code()),
			slog.Int("bytes", rec.bytes),
			slog.Duration("duration", time.Since(start)), // JSON: nanoseconds, an integer (floats cost more to log)
			slog.String("remote", r.RemoteAddr),
		)
	})
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total", Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_request_duration_seconds", Help: "HTTP request latency by route pattern and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// Methods outside this set share one label value, so a client cannot mint new series.
var knownMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true}

func withMetrics(m *httpMetrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := record(w)
		next.ServeHTTP(rec, r)
		method := r.Method
		if !knownMethods[method] {
			method = "OTHER"
		}
		route := pattern(r)
		m.requests.WithLabelValues(route, method, strconv.Itoa(rec.code())).Inc()
		m.duration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
	})
}

// withRecovery turns a panicking handler into a logged 500; the server keeps serving.
func withRecovery(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
				panic(v) // the server's own way to abort a response: let it do so
			}
			log.ErrorContext(r.Context(), "panic serving request",
				"request_id", RequestID(r.Context()), "panic", v, "stack", string(debug.Stack()))
			writeError(w, r, http.StatusInternalServerError, "internal error")
		}()
		next.ServeHTTP(w, r)
	})
}
