package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
	"github.com/slipway-dev/slipway/internal/pipeline/release"
)

// stageLabels says which of the stages (build, archive, SBOM, sign, image, push, scan)
// each stage of the release's summary is.
var stageLabels = map[string]string{
	stage.GoreleaserBuild:     "build",
	stage.GoreleaserArchives:  "archive",
	stage.GoreleaserSBOMs:     "SBOM",
	stage.GoreleaserChecksums: "archive (checksums)",
	stage.GoreleaserSign:      "sign",
	stage.GoreleaserKo:        "image + push (ko: build both platforms, push the index)",
	stage.ImageSignatures:     "sign",
	stage.ImageSBOMs:          "SBOM (images, attested: sign)",
	stage.Scan:                "scan",
	stage.Verify:              "verify",
	stage.Preflight:           "setup",
	stage.Tools:               "setup (one-off: tools built on first use)",
	stage.Prepare:             "setup",
	stage.SigningKey:          "setup",
	stage.ImageInfra:          "setup (registry, base image)",
}

// releaseCase runs the local release (`mage release`) once a repetition and breaks its time
// down by the stages of its summary. There is nothing to interleave: one contender. The release
// writes dist/, as `mage release` does.
func releaseCase(ctx context.Context, b *bencher) ([]Result, error) {
	r := Result{Case: "release", Title: "full local release (`mage release`), time by stage", Shares: true}
	var order []string
	values := map[string][]float64{}
	for rep := range b.o.Reps {
		fmt.Fprintf(b.out, "  rep %d/%d  running the local release (its output: .slipway/logs/bench.log)\n", rep+1, b.o.Reps)
		t0 := time.Now()
		stages, err := release.Run(ctx, release.Options{Root: b.o.Root, Out: b.log, Settings: b.o.Settings})
		total := time.Since(t0)
		if err != nil {
			return []Result{r}, fmt.Errorf("release (repetition %d of %d; its output is in .slipway/logs/bench.log): %w", rep+1, b.o.Reps, err)
		}
		var sum time.Duration
		for _, s := range stages {
			if s.Status == stage.Skipped {
				continue
			}
			if _, seen := values[s.Name]; !seen {
				order = append(order, s.Name)
			}
			values[s.Name] = append(values[s.Name], s.Duration.Seconds())
			sum += s.Duration
		}
		values["other (outside the timed stages)"] = append(values["other (outside the timed stages)"], (total - sum).Seconds())
		values["total"] = append(values["total"], total.Seconds())
		fmt.Fprintf(b.out, "  rep %d/%d  release took %s\n", rep+1, b.o.Reps, formatValue(total.Seconds(), "s"))
	}
	for _, name := range append(order, "other (outside the timed stages)", "total") {
		label := name
		if l := stageLabels[name]; l != "" {
			label += " [" + l + "]"
		}
		r.Series = append(r.Series, Series{Contender: label, Metric: "time", Unit: "s", Values: values[name]})
	}
	// Contender "total" keeps its plain name: column() finds the total by it.
	r.Notes = append(r.Notes, "ko (inside goreleaser) builds and pushes the images in one step, so image and push are one row; "+
		"\"other\" is goreleaser's untimed pipes (defaults, git, checksums) and the summary.")
	return []Result{r}, nil
}
