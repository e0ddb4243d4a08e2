package release

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/artifact"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/provenance"
	"github.com/slipway-dev/slipway/internal/pipeline/quality"
	"github.com/slipway-dev/slipway/internal/pipeline/scan"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
	"github.com/slipway-dev/slipway/internal/pipeline/vex"
)

// buildTimes are when goreleaser started and finished building: the provenance's run times.
type buildTimes struct{ started, finished time.Time }

// writeProvenance writes the release's SLSA provenance statement into dist/: every archive a
// subject (one statement, one signature, since one build from one commit made them all), the
// build's parameters and resolved dependencies, and who ran it (provenance.FromEnv). It returns
// the file's name.
func writeProvenance(ctx context.Context, dist string, in inputs, baseImage string, bt buildTimes) (string, error) {
	sums, err := readChecksums(filepath.Join(dist, artifact.ChecksumsFile))
	if err != nil {
		return "", err
	}
	var subjects []provenance.Subject
	for _, name := range slices.Sorted(maps.Keys(sums)) {
		if isArchive(name) {
			subjects = append(subjects, provenance.Subject{Name: name, SHA256: sums[name]})
		}
	}
	p := provenance.Inputs{
		Subjects:   subjects,
		Repository: sourceRepository(in.root, in.cfg.Getenv),
		Commit:     in.commit,
		Version:    in.tag,
		Platforms:  in.platforms,
		BuildFlags: map[string]string{},
		Started:    bt.started,
		Finished:   bt.finished,
	}
	// The flags gobuild defines for the release (SLIPWAY_LDFLAGS, ...), not the toolchain
	// settings beside them, which say where modules come from (a proxy URL may hold a token).
	for _, kv := range in.build {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, project.EnvPrefix) {
			p.BuildFlags[strings.TrimPrefix(k, project.EnvPrefix)] = v
		}
	}
	if p.GoSum, err = os.ReadFile(filepath.Join(in.root, "go.sum")); err != nil {
		return "", err
	}
	// The toolchain goreleaser built with: the go on PATH, in the release's build environment.
	if p.GoVersion, err = (run.Cmd{Dir: in.root, Env: in.build}).Output(ctx, "go", "env", "GOVERSION"); err != nil {
		return "", err
	}
	if baseImage != "" {
		name, digest, _ := strings.Cut(baseImage, "@")
		repo, _ := splitTag(name)
		p.BaseImages = []provenance.Image{{Repository: repo, Digest: digest}}
	}
	if p.Tools, err = provenance.PinnedTools(in.root); err != nil {
		return "", err
	}
	if p.Run, err = provenance.FromEnv(in.cfg.Getenv); err != nil {
		return "", err
	}
	data, err := provenance.Statement(p)
	if err != nil {
		return "", err
	}
	name := artifact.ProvenanceName(project.Name, in.version)
	return name, os.WriteFile(filepath.Join(dist, name), data, 0o644)
}

// attestProvenance signs the provenance statement in dist/ (a bundle beside it) and attaches its
// predicate to every image index and platform image as a signed attestation; cosign makes each
// image's digest the subject. It returns how many images it attested.
func attestProvenance(ctx context.Context, dist, version, crane string, signer sign.Signer) (int, error) {
	statement := filepath.Join(dist, artifact.ProvenanceName(project.Name, version))
	if err := signer.AttestBlob(ctx, statement, statement+artifact.BundleSuffix); err != nil {
		return 0, err
	}
	data, err := os.ReadFile(statement)
	if err != nil {
		return 0, err
	}
	var st struct{ Predicate json.RawMessage }
	if err := json.Unmarshal(data, &st); err != nil {
		return 0, fmt.Errorf("%s is not a statement: %w", statement, err)
	}
	if len(st.Predicate) == 0 {
		return 0, fmt.Errorf("%s holds no predicate", statement)
	}
	tmp, err := os.MkdirTemp("", "provenance-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	predicate := filepath.Join(tmp, "predicate.json")
	if err := os.WriteFile(predicate, st.Predicate, 0o644); err != nil {
		return 0, err
	}
	return attestImages(ctx, dist, crane, signer, artifact.ProvenanceType, predicate)
}

// govulncheck runs the release's vulnerability reachability check once: the VEX document is made
// of its verdict, and the scan gate reports it beside Trivy's.
func govulncheck(ctx context.Context, o Options, in inputs) (quality.VulnResult, string, error) {
	r, err := quality.Vuln(ctx, o.Root, in.govulncheck, o.Settings)
	if err != nil {
		return r, "", err
	}
	if !r.Ran {
		return r, "NOT RUN (" + r.NotRun + ")", nil
	}
	return r, fmt.Sprintf("%d called, %d present but not called (%s)", len(r.Findings), len(r.Imported), r.DB), nil
}

// writeVEX writes the release's OpenVEX document into dist/ from govulncheck's verdict and the
// accepted findings of the ignore list, about the module and every pushed image (named where
// users get them: the target registry of a publishing release). Its time is the commit's, so the
// same commit and verdicts give the same bytes. It returns the file's name.
func writeVEX(ctx context.Context, dist string, in inputs, r quality.VulnResult, withImages, publish bool) (string, error) {
	module, err := modulePath(in.root)
	if err != nil {
		return "", err
	}
	entries, _, err := scan.CheckIgnoreList(filepath.Join(in.root, scan.IgnoreFile), time.Now())
	if err != nil {
		return "", err
	}
	var accepted []vex.Accepted
	for _, e := range entries {
		if e.Kind == "vulnerabilities" {
			accepted = append(accepted, vex.Accepted{ID: e.ID, Statement: e.Statement, ExpiredAt: e.ExpiredAt})
		}
	}
	var images []vex.Image
	if withImages {
		recs, err := ReadImages(dist)
		if err != nil {
			return "", err
		}
		for _, rec := range recs {
			ps, err := IndexPlatforms(ctx, in.crane, rec.Repo+"@"+rec.Digest)
			if err != nil {
				return "", err
			}
			img := vex.Image{Repository: rec.Repo, Digests: append([]string{rec.Digest}, digestsOf(ps)...)}
			if publish {
				img.Repository = in.state.Registry + "/" + project.Name
			}
			images = append(images, img)
		}
	}
	data, err := vex.Document(vex.Inputs{
		Module: module, Images: images, Govulncheck: r, Accepted: accepted,
		Author: sourceRepository(in.root, in.cfg.Getenv), Timestamp: in.date,
	})
	if err != nil {
		return "", err
	}
	name := artifact.VEXName(project.Name, in.version)
	return name, os.WriteFile(filepath.Join(dist, name), data, 0o644)
}

// attestVEX attaches the VEX document in dist/ to every image index and platform image.
func attestVEX(ctx context.Context, dist, version, crane string, signer sign.Signer) (int, error) {
	return attestImages(ctx, dist, crane, signer, artifact.VEXType, filepath.Join(dist, artifact.VEXName(project.Name, version)))
}

// attestImages attaches one predicate to every pushed index and each of its platform images.
func attestImages(ctx context.Context, dist, crane string, signer sign.Signer, attType, predicate string) (int, error) {
	n := 0
	err := eachImage(ctx, dist, crane, func(ref string, _ *artifact.Platform) error {
		n++
		return signer.Attest(ctx, ref, attType, predicate)
	})
	return n, err
}
