package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/docker"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
)

// Machine describes where the figures were measured: without it a ratio has no context.
type Machine struct {
	CPU, Memory, Kernel string
	Cores               int
	Go, Docker          string
	Load                string // the load average at the start: a busy machine widens min–max
	Date                string
	Offline             bool
}

// DescribeMachine reads /proc (Linux) and asks go and docker for their versions. What it cannot
// read it reports as unknown rather than failing the run.
func DescribeMachine(ctx context.Context, offline bool) Machine {
	m := Machine{CPU: "unknown CPU", Memory: "unknown", Kernel: runtime.GOOS, Cores: runtime.NumCPU(),
		Load: "unknown", Date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), Offline: offline}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPU = cpuModel(string(data))
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.Memory = memTotal(string(data))
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(data)); len(f) >= 3 {
			m.Load = strings.Join(f[:3], " ")
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(data))
	}
	m.Go, _ = run.Output(ctx, "go", "env", "GOVERSION")
	m.Docker, _ = (docker.CLI{}).ServerVersion(ctx)
	if m.Docker == "" {
		m.Docker = "not reachable"
	}
	return m
}

// Line is the description in one line.
func (m Machine) Line() string {
	s := fmt.Sprintf("%s, %d cores, %s memory, %s, %s, Docker %s, load average %s at start",
		m.CPU, m.Cores, m.Memory, m.Kernel, m.Go, m.Docker, m.Load)
	if m.Offline {
		s += "; offline (SLIPWAY_OFFLINE=1: stand-in base images from the loopback registry)"
	}
	return s
}

func cpuModel(cpuinfo string) string {
	for _, line := range strings.Split(cpuinfo, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return "unknown CPU"
}

func memTotal(meminfo string) string {
	for _, line := range strings.Split(meminfo, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
				return fmt.Sprintf("%.1f GiB", kb/(1<<20))
			}
		}
	}
	return "unknown"
}
