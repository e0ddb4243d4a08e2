package server

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
)

// The middleware's cost as a ratio: the same greet request over loopback (keep-alive, two client
// goroutines per CPU) through the full stack and through a bare mux. Compare req/s; the goal is
// full stack >= 0.85x bare. Run them alternately, since a busy machine skews one run:
//
//	go test -run '^$' -bench 'Greet(FullStack|Bare)$' -count 6 ./internal/server/
func BenchmarkGreetFullStack(b *testing.B) {
	s := New(testConfig(), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	benchServe(b, s.Handler())
}

func BenchmarkGreetBare(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/greet", greetQuery)
	benchServe(b, mux)
}

func benchServe(b *testing.B, h http.Handler) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/v1/greet?name=Ada"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	b.ReportAllocs()
	b.ResetTimer()
	b.SetParallelism(2)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
