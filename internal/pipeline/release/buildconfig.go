package release

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/gobuild"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/git"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/version"
)

// buildConfig is the build core's definitions the release passes to goreleaser, and the git
// state the publishing decision needs.
type buildConfig struct {
	version   string    // the stamp's version, e.g. v1.2.3 or v1.2.3-4-gabc1234
	exactTag  string    // the v* tag on HEAD, "" when there is none
	dirty     bool      // anything `git status` shows, untracked files included (as goreleaser checks)
	epoch     string    // the stamp's date as Unix seconds: SOURCE_DATE_EPOCH for the images
	date      time.Time // the same date: the VEX document's time
	commit    string    // the full commit hash
	env       []string  // SLIPWAY_LDFLAGS, SLIPWAY_GOFLAGS, SLIPWAY_CGO_ENABLED
	platforms []string  // build:all's default matrix, which .goreleaser.yaml must list
}

func readBuildConfig(ctx context.Context, root string, stamp version.Stamp) (buildConfig, error) {
	env, err := gobuild.ReleaseEnv(stamp)
	if err != nil {
		return buildConfig{}, err
	}
	date, err := time.Parse(time.RFC3339, stamp.Date)
	if err != nil {
		return buildConfig{}, fmt.Errorf("version stamp date %q: %w (is this a git checkout with commits?)", stamp.Date, err)
	}
	repo := git.Repo{Dir: root}
	changes, err := repo.Changes(ctx)
	if err != nil {
		return buildConfig{}, err
	}
	s := buildConfig{
		version:  stamp.Version,
		exactTag: repo.ExactTag(ctx),
		dirty:    len(changes) > 0,
		epoch:    strconv.FormatInt(date.Unix(), 10),
		date:     date,
		commit:   stamp.Commit,
		env:      env,
	}
	// A release builds the whole default matrix: goreleaser's target list cannot follow
	// PLATFORMS, which narrows build:all only.
	for _, p := range platform.Default {
		s.platforms = append(s.platforms, p.String())
	}
	return s, nil
}
