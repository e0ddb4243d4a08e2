package runproof

import (
	"context"
	"errors"
	"fmt"

	"github.com/slipway-dev/slipway/internal/pipeline/deploy"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
)

// Verify is `mage verify:run`: every Linux binary in the run's dist (PLATFORMS) and every
// platform image of the image deploy:render deploys, each run on its own architecture, with the
// report on c.Out. With no image to deploy (no release, no DEPLOY_IMAGE) the images are NOT
// RUN, and it says why.
func Verify(ctx context.Context, c *stage.Context) error {
	ps, err := platform.From(c.Settings)
	if err != nil {
		return err
	}
	stamp, err := c.Stamp(ctx)
	if err != nil {
		return err
	}
	crane, err := c.Tool(ctx, "crane")
	if err != nil {
		return err
	}
	ch := Checker{Crane: crane}
	results, err := ch.Binaries(ctx, c.Dist, ps, stamp.Version)
	if img, noImage := deploy.ChooseImage(c.Settings, c.Dist); noImage != nil {
		fmt.Fprintf(c.Out, "verify:run: images NOT RUN: %v\n", noImage)
	} else {
		imgs, imgErr := ch.Images(ctx, []string{img.Ref()}, stamp.Version)
		results, err = append(results, imgs...), errors.Join(err, imgErr)
	}
	Report(c.Out, results)
	return err
}
