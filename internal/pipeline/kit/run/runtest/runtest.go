// Package runtest is the run package's helper for tests that read what a command or a progress
// line printed while it still prints.
package runtest

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer that one goroutine may write while another reads.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
