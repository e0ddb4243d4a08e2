package tools

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
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
	lines      io.Writer
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
	p.lines = run.Lines(p.count)
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

func (p *buildProgress) Write(b []byte) (int, error) { return p.lines.Write(b) }

func (p *buildProgress) count(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case strings.HasPrefix(line, "go: downloading "):
		p.downloads++
	case line != "" && !strings.HasPrefix(line, "go: ") && !strings.HasPrefix(line, "#"):
		p.packages++ // -v prints each package's import path as it is compiled
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
