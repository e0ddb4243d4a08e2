// Package buildinfo holds the version stamp shared by the service and the build.
//
// The build sets these variables with -ldflags "-X": see internal/pipeline/gobuild,
// which names them through the constants below, so the two sides cannot drift apart.
package buildinfo

import (
	"fmt"
	"runtime"
)

// Stamped at link time. The defaults describe an unstamped `go build`/`go run`.
var (
	Version = "0.0.0-dev"
	Commit  = "unknown"
	Date    = "unknown" // RFC 3339, the commit time: never the time of the build
)

// The fully qualified names the linker's -X flag needs.
const (
	pkg        = "github.com/slipway-dev/slipway/internal/buildinfo"
	VersionVar = pkg + ".Version"
	CommitVar  = pkg + ".Commit"
	DateVar    = pkg + ".Date"
)

// Info is the stamp plus what the Go runtime knows, as served on /version.
type Info struct {
	Version  string `json:"version"`
	Commit   string `json:"commit"`
	Date     string `json:"date"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// Get returns the stamp of the running binary.
func Get() Info {
	return Info{
		Version:  Version,
		Commit:   Commit,
		Date:     Date,
		Go:       runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// String is the one-line form `slipway version` prints.
func (i Info) String() string {
	return fmt.Sprintf("slipway %s (commit %s, commit date %s, %s, %s)",
		i.Version, i.Commit, i.Date, i.Go, i.Platform)
}
