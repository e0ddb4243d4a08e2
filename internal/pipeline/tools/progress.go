package tools

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// ProgressEvery is how often a tool build says it is still at work.
var ProgressEvery = 15 * time.Second

// buildProgress turns `go build -v` output into a line every ProgressEvery: which tool, the
// elapsed time, how many modules were downloaded and packages compiled so far. The output
// itself (`go: downloading ...` and the package names) goes to the log file only.
type buildProgress struct {
	out        io.Writer
	what, log  string
	start      time.Time
	mu         sync.Mutex
	partial    []byte
	downloads  int
	packages   int
	tick       *time.Ticker
	stopped    chan struct{}
	stopOnce   sync.Once
	finishOnce sync.Once
}

func newBuildProgress(out io.Writer, what, log string) *buildProgress {
	p := &buildProgress{out: out, what: what, log: log, start: time.Now(),
		tick: time.NewTicker(ProgressEvery), stopped: make(chan struct{})}
	fmt.Fprintf(out, "building tool %s on first use (log: %s)\n", what, log)
	go func() {
		for {
			select {
			case <-p.tick.C:
				fmt.Fprintf(out, "  ... %s\n", p.status())
			case <-p.stopped:
				return
			}
		}
	}()
	return p
}

func (p *buildProgress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := string(p.partial[:i])
		p.partial = p.partial[i+1:]
		switch {
		case strings.HasPrefix(line, "go: downloading "):
			p.downloads++
		case line != "" && !strings.HasPrefix(line, "go: ") && !strings.HasPrefix(line, "#"):
			p.packages++ // -v prints each package's import path as it is compiled
		}
	}
}

func (p *buildProgress) status() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("%s: %s, %d modules downloaded, %d packages compiled",
		p.what, time.Since(p.start).Round(time.Second), p.downloads, p.packages)
}

// done reports the finished build.
func (p *buildProgress) done() {
	p.stop()
	p.finishOnce.Do(func() { fmt.Fprintf(p.out, "built %s\n", p.status()) })
}

func (p *buildProgress) stop() {
	p.stopOnce.Do(func() { p.tick.Stop(); close(p.stopped) })
}
