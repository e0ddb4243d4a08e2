package scan

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools"
	"github.com/slipway-dev/slipway/internal/pipeline/offline/registry"
	"github.com/slipway-dev/slipway/internal/pipeline/quality"
)

// DBEnv names the Trivy database repository setting, e.g.
// SLIPWAY_TRIVY_DB=registry.internal/aquasecurity/trivy-db:2.
const DBEnv = project.EnvPrefix + "TRIVY_DB"

// TrivyDB is Trivy's vulnerability database artifact upstream. Mirrors hold it at the same path
// as images (SLIPWAY_IMAGE_MIRROR/aquasecurity/trivy-db:2; offline, the project's registry under
// mirror/). It is rebuilt every few hours, so it is not pinned; the tag is the schema version
// the pinned Trivy reads.
var TrivyDB = image.Ref{Registry: "ghcr.io", Path: "aquasecurity/trivy-db", Tag: "2"}

// Defaults are the gate's settings for this checkout: the pinned Trivy (installed on first use),
// SCAN_SEVERITY, SLIPWAY_OFFLINE, the database repository (all three from s), reports in
// dist/scan and Trivy's cache in .slipway/trivy. The caller adds the images to scan.
func Defaults(ctx context.Context, root string, s settings.Settings) (Options, error) {
	sev, err := ParseSeverities(s.ScanSeverity)
	if err != nil {
		return Options{}, err
	}
	bin, err := tools.Path(ctx, root, "trivy")
	if err != nil {
		return Options{}, err
	}
	db, err := dbRepository(ctx, root, s)
	if err != nil {
		return Options{}, err
	}
	return Options{
		Root:         root,
		Trivy:        bin,
		CacheDir:     filepath.Join(project.StateDir(root), "trivy"),
		OutDir:       filepath.Join(project.DistDir(root, s), "scan"),
		Severities:   sev,
		Offline:      s.Offline,
		DBRepository: db,
		ConfigFiles:  ConfigFiles,
		Govulncheck:  GovulncheckIn(root, s),
		Out:          os.Stdout,
	}, nil
}

// dbRepository is SLIPWAY_TRIVY_DB, else the database in the image mirror (offline: the
// project's registry, started if need be, as for the stand-in images), else "" for Trivy's own
// default registries.
func dbRepository(ctx context.Context, root string, s settings.Settings) (string, error) {
	if s.TrivyDB != "" {
		return s.TrivyDB, nil
	}
	addr := ""
	if s.Offline {
		reg, err := registry.Project(ctx, root)
		if err != nil {
			return "", err
		}
		addr = reg.Addr
	}
	src, err := image.SourceFrom(s, addr, "")
	if err != nil || src.Mirror == "" {
		return "", err
	}
	return TrivyDB.In(src.Mirror), nil
}

// GovulncheckIn runs `mage vuln`'s check (the pinned govulncheck, reachability-aware) over the
// module in dir, for the verdict beside Trivy's. Offline without a Go vulnerability database it
// reports NOT RUN, exactly as `mage vuln` does.
func GovulncheckIn(dir string, s settings.Settings) func(context.Context, io.Writer) (Status, error) {
	return func(ctx context.Context, out io.Writer) (Status, error) {
		bin, err := tools.Path(ctx, dir, "govulncheck")
		if err != nil {
			return Status{}, err
		}
		r, err := quality.Vuln(ctx, dir, bin, s)
		if err != nil {
			return Status{}, err
		}
		return GovulncheckResult(r)(ctx, out)
	}
}

// GovulncheckResult is the verdict beside Trivy's from a govulncheck run already made: a release
// runs it once, before the gate, for the VEX document the gate then reads.
func GovulncheckResult(r quality.VulnResult) func(context.Context, io.Writer) (Status, error) {
	return func(_ context.Context, out io.Writer) (Status, error) {
		r.Report(out)
		switch {
		case !r.Ran:
			return Status{Summary: "NOT RUN (" + r.NotRun + ")"}, nil
		case r.Failed():
			var ids []string
			for _, f := range r.Findings {
				ids = append(ids, f.ID+" "+f.Symbol)
			}
			return Status{Ran: true, Summary: fmt.Sprintf("FAIL: %d vulnerable symbol(s) called: %s", len(r.Findings), strings.Join(ids, ", "))}, nil
		}
		return Status{Ran: true, Pass: true, Summary: fmt.Sprintf("no vulnerable symbol called (%d present, not called)", len(r.Imported))}, nil
	}
}
