// Package setup is `mage setup`, a machine prepared ahead as a list of stages: every pinned
// tool, the buildx Docker CLI plugin and, offline, fresh stand-ins for the upstream base images.
// No target needs it first (each installs what it uses on first use), and the release's own
// first-use stage, Tools, comes from here.
package setup

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools"
	"github.com/slipway-dev/slipway/internal/pipeline/offline/standin"
)

// Stage names of setup's own stages.
const (
	Buildx   = "buildx plugin"
	StandIns = "offline stand-ins (refreshed)"
)

// Run prepares this machine for the checkout of c.
func Run(ctx context.Context, c *stage.Context) error {
	_, err := stage.Run(ctx, c, Stages())
	return err
}

// Stages are Run's stages, in order.
func Stages() []stage.Stage {
	installed := Tools(tools.Names()...)
	report := installed.Run
	installed.Run = func(ctx context.Context, c *stage.Context) (string, error) {
		note, err := report(ctx, c)
		if err != nil {
			return note, err
		}
		return note, tools.Report(c.Root, c.Out)
	}
	return []stage.Stage{
		installed,
		{Name: Buildx, Run: func(ctx context.Context, c *stage.Context) (string, error) {
			return "", image.SetupBuildx(ctx, c.Root, c.Out)
		}},
		{Name: StandIns,
			Skip: func(c *stage.Context) (string, bool) { return "online: upstream base images", !c.Settings.Offline },
			Run: func(ctx context.Context, c *stage.Context) (string, error) {
				return "", standin.Setup(ctx, c.Root, c.Out)
			}},
	}
}

// Tools is the first-use stage that builds whichever of the pinned tools names are missing,
// with progress, and says which it built and how long each took.
func Tools(names ...string) stage.Stage {
	return stage.Stage{Name: stage.Tools, OneOff: true, Run: func(ctx context.Context, c *stage.Context) (string, error) {
		built, err := tools.Ensure(ctx, c.Root, c.Out, names...)
		if len(built) == 0 {
			return "all installed", err
		}
		var what []string
		for _, b := range built {
			what = append(what, fmt.Sprintf("%s %s (%s)", b.Name, b.Version, b.Took.Round(time.Second)))
		}
		return "built " + strings.Join(what, ", "), err
	}}
}
