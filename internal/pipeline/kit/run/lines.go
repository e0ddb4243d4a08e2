package run

import (
	"bytes"
	"io"
	"sync"
)

// Lines is a writer that calls fn with each complete line written to it (without the newline),
// however the writes split them: for following a tool's output as it runs. It is safe for
// concurrent writers (stdout and stderr of one command).
func Lines(fn func(line string)) io.Writer { return &lines{fn: fn} }

type lines struct {
	mu      sync.Mutex
	partial []byte
	fn      func(string)
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		l.fn(line)
	}
}
