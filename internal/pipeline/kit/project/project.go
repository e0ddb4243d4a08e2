// Package project knows where things live in a checkout and reads the settings every stage shares.
package project

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
)

// Name is the binary, image and archive name. `mage init` rewrites it.
const Name = "slipway"

// EnvPrefix starts every environment setting of the service and the build.
const EnvPrefix = settings.EnvPrefix

// Root finds the top of the checkout: the nearest directory upward holding magefile.go and go.mod.
// Tests that run in a package directory find the repository this way too.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isFile(filepath.Join(dir, "go.mod")) && isFile(filepath.Join(dir, "magefile.go")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the slipway checkout: no directory above holds magefile.go and go.mod")
		}
		dir = parent
	}
}

// DistDir is where builds, archives and reports go: dist/ at the root, or SLIPWAY_DIST in s.
func DistDir(root string, s settings.Settings) string {
	if s.Dist != "" {
		return s.Dist
	}
	return filepath.Join(root, "dist")
}

// StateDir holds git-ignored local state: tools, the loopback registry, the local signing key.
func StateDir(root string) string {
	return filepath.Join(root, ".slipway")
}

// LogFile creates (or truncates) .slipway/logs/<name>.log, where a stage keeps the full output
// of a tool whose progress it summarises.
func LogFile(root, name string) (*os.File, error) {
	dir := filepath.Join(StateDir(root), "logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return os.Create(filepath.Join(dir, name+".log"))
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
