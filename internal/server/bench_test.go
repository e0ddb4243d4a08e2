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
// full stack >= 0.85x bare. Run the pair several times and compare medians:
//
//	go test -run '^$' -bench 'Greet(FullStack|Bare)$' -count 6 ./internal/server/
//
// On a busy machine req/s swings with the load; cpu-us/op (client and server together, where
// the OS reports it) is steadier, and bare/full of it is the ratio a CPU-bound server reaches.
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
	cpu0, cpuOK := processCPU()
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
	if cpu1, ok := processCPU(); ok && cpuOK {
		b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
	}
}
