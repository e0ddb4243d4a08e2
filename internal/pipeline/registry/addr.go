package registry

import (
	"os"

	"github.com/slipway-dev/slipway/internal/pipeline/preflight"
)

// Addr is where the project's registry listens: SLIPWAY_REGISTRY_ADDR, or DefaultAddr.
func Addr() string {
	if a := os.Getenv("SLIPWAY_REGISTRY_ADDR"); a != "" {
		return a
	}
	return DefaultAddr
}

// PortCheck is the preflight check that the registry's port is free, or held by a registry.
func PortCheck() preflight.Check {
	return preflight.PortFreeOrOurs("registry port", Addr(),
		"set SLIPWAY_REGISTRY_ADDR=127.0.0.1:<a free port> for this checkout's registry",
		func() bool { return answers(Addr()) })
}
