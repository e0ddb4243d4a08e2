package release

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/quality"
	"github.com/slipway-dev/slipway/internal/pipeline/scan"
)

// scanGate runs before anything is published: no pushed image may be built on an offline
// stand-in outside offline mode, and the scan gate (Trivy over the source, the configuration and
// every platform image in the loopback registry, with govulncheck's verdict vuln) must pass.
// Trivy reads the release's VEX document (vexFile in dist/, when there is one): a vulnerability
// govulncheck found present but never called no longer fails it, a called one still does. It
// returns a one-line note for the summary and, when the vulnerability scanners did not both run,
// why (a publishing release refuses to go out then).
func scanGate(ctx context.Context, o Options, dist string, in inputs, vexFile string, vuln quality.VulnResult) (note string, notScanned error, err error) {
	recs, err := ReadImages(dist)
	if err != nil {
		return "", nil, err
	}
	so, err := scan.Defaults(ctx, o.Root, o.Settings)
	if err != nil {
		return "", nil, err
	}
	so.Out = o.Out
	so.OutDir = filepath.Join(dist, "scan")
	so.Govulncheck = scan.GovulncheckResult(vuln)
	if vexFile != "" {
		so.VEX = filepath.Join(dist, vexFile)
	}
	for _, r := range recs {
		ps, err := IndexPlatforms(ctx, in.crane, r.Repo+"@"+r.Digest)
		if err != nil {
			return "", nil, err
		}
		for _, p := range ps {
			ref := r.Repo + "@" + p.Digest
			labels, err := image.Labels(ctx, in.crane, ref, p.String())
			if err != nil {
				return "", nil, err
			}
			if err := image.CheckShippable(ref, labels, o.Settings); err != nil {
				return "", nil, err
			}
			so.Images = append(so.Images, ref)
		}
	}
	v, err := scan.Run(ctx, so)
	if err != nil {
		return "", nil, err
	}
	note = fmt.Sprintf("passed, %d targets", len(v.Targets))
	if notScanned = v.RequireVulnScan(); notScanned != nil {
		note += fmt.Sprintf("; vulnerability scan NOT RUN (trivy: %s; govulncheck: %s)", v.TrivyVuln.Summary, v.Govulncheck.Summary)
	}
	return note, notScanned, nil
}
