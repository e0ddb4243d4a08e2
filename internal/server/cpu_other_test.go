//go:build !unix

package server

import "time"

// processCPU is not measured here: benchmarks report req/s only.
func processCPU() (time.Duration, bool) { return 0, false }
