// Command fake stands in for the service in the run proof's failure tests. It answers
// `version` (with main.version) and `healthcheck` as the service does; what it does when it
// runs is main.mode, set with -ldflags -X:
//
//	sleep     serves nothing: it never becomes ready
//	badexit   answers 200 everywhere on :8080, but exits 3 on SIGTERM
package main

import (
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

var mode, version string

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "version":
			fmt.Printf("slipway %s (commit fake, commit date fake, %s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return
		case "healthcheck":
			return
		}
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	if mode == "badexit" {
		ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}) // 200
		srv := &http.Server{Addr: ":8080", Handler: ok, ReadHeaderTimeout: time.Second}
		go func() { _ = srv.ListenAndServe() }()
	}
	<-sigs
	os.Exit(3)
}
