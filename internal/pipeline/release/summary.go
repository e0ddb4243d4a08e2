package release

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/artifact"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

// Summary is what the release prints at the end, and what the user needs to check it.
type Summary struct {
	Version string
	Plan    Plan
	Stages  []stage.Result
	Checked Checked
	Root    string // paths in commands are shown relative to it
	Dist    string
	Extra   []artifact.File // not in Checked.Files: release.json and its bundle, which cannot list themselves
	// Verify commands: the verifier of this release; Unsigned leaves out the signature checks.
	Verifier sign.Verifier
	Unsigned bool
}

// Write prints the summary.
func (s Summary) Write(w io.Writer) {
	mode := "PUBLISHED"
	if !s.Plan.Publish {
		mode = "LOCAL release (not published: " + strings.Join(s.Plan.Local, "; ") + ")"
	}
	fmt.Fprintf(w, "\nRelease %s: %s\n", s.Version, mode)

	fmt.Fprintln(w, "\nStages")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var total, oneOff time.Duration
	for _, st := range s.Stages {
		if st.OneOff {
			oneOff += st.Duration
			continue
		}
		total += st.Duration
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", st.Name, duration(st.Duration), st)
	}
	fmt.Fprintf(tw, "  total\t%s\t\n", duration(total))
	tw.Flush()
	fmt.Fprintf(w, "\nOne-off setup (first use only): %s\n", duration(oneOff))
	for _, st := range s.Stages {
		if st.OneOff {
			fmt.Fprintf(w, "  %-20s %8s  %s\n", st.Name, duration(st.Duration), st)
		}
	}

	fmt.Fprintf(w, "\nArtifacts in %s (%d)\n", s.rel(s.Dist), len(s.Checked.Files)+len(s.Extra))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range append(append([]artifact.File(nil), s.Checked.Files...), s.Extra...) {
		fmt.Fprintf(tw, "  %s\t%s\tsha256:%s\n", f.Name, size(f.Size), f.SHA256)
	}
	tw.Flush()

	if s.Checked.ArchivesOnly {
		fmt.Fprintf(w, "\nImages: none (archives only, as %s records)\n", artifact.ContentsFile)
	}
	if len(s.Checked.Images) > 0 {
		fmt.Fprintln(w, "\nImages")
		for _, img := range s.Checked.Images {
			fmt.Fprintf(w, "  %s  (tags: %s)\n", img.Ref(), strings.Join(img.Tags, ", "))
			for _, p := range img.Platforms {
				fmt.Fprintf(w, "    %-12s %-9s %s\n", p, size(p.Size), p.Digest)
			}
		}
	}
	s.writeAttestations(w)
	if s.Checked.NoVEX != "" {
		fmt.Fprintf(w, "\nVEX: none (%s)\n", s.Checked.NoVEX)
	}
	for _, n := range s.Checked.Notes {
		fmt.Fprintf(w, "\nNote: %s\n", n)
	}

	fmt.Fprintln(w, "\nVerify it yourself (cosign: the pinned one is in .slipway/tools, or `go run mage.go verify` runs all of this)")
	for _, c := range s.VerifyCommands() {
		fmt.Fprintf(w, "  %s\n", c)
	}
}

// writeAttestations lists the provenance bundle of the archives and, under each image index and
// platform image, its attestations by type with the digests of their manifests in the registry.
func (s Summary) writeAttestations(w io.Writer) {
	var archives int
	bundle := ""
	for _, f := range s.Checked.Files {
		switch f.Kind {
		case artifact.KindArchive:
			archives++
		case artifact.KindAttestation:
			bundle = f.Name
		}
	}
	if bundle == "" && len(s.Checked.Attestations) == 0 {
		return
	}
	fmt.Fprintln(w, "\nAttestations")
	if bundle != "" {
		fmt.Fprintf(w, "  %s: %s of %d archives (a file, listed above)\n", bundle, artifact.ProvenanceType, archives)
	}
	for _, img := range s.Checked.Images {
		subjects := [][2]string{{"index", img.Digest}}
		for _, p := range img.Platforms {
			subjects = append(subjects, [2]string{p.String(), p.Digest})
		}
		for _, sub := range subjects {
			fmt.Fprintf(w, "  %s %s@%s\n", sub[0], img.Repo, sub[1])
			for _, a := range s.Checked.Attestations {
				if a.Image == img.Repo+"@"+sub[1] {
					ds := strings.Join(a.Digests, ", ")
					if ds == "" {
						ds = "(the registry lists its referrers itself: cosign tree " + a.Image + ")"
					}
					fmt.Fprintf(w, "    %-16s %s\n", a.Type, ds)
				}
			}
		}
	}
}

// VerifyCommands are the exact commands that check this release by hand: its signed contents
// first (what `mage verify` checks everything else against), then the checksums, the files,
// every archive's provenance, and each image's signature and attestations (SBOM, provenance,
// VEX). Reading what the provenance says is `mage verify`'s, or see SECURITY.md.
func (s Summary) VerifyCommands() []string {
	contents := s.rel(filepath.Join(s.Dist, artifact.ContentsFile))
	sums := s.rel(filepath.Join(s.Dist, artifact.ChecksumsFile))
	v := s.Verifier
	if v.Key != "" {
		v.Key = s.rel(v.Key)
	}
	cmds := []string{fmt.Sprintf("(cd %s && sha256sum --check %s)", s.rel(s.Dist), artifact.ChecksumsFile)}
	if s.Unsigned {
		return cmds
	}
	cmds = append([]string{
		run.Quote("cosign", v.BlobArgs(contents, contents+artifact.BundleSuffix)...),
		run.Quote("cosign", v.BlobArgs(sums, sums+artifact.BundleSuffix)...),
	}, cmds...)
	for _, f := range s.Checked.Files {
		if f.Kind == artifact.KindAttestation {
			for _, a := range s.Checked.Files {
				if a.Kind == artifact.KindArchive {
					cmds = append(cmds, run.Quote("cosign", v.BlobAttestationArgs(s.rel(filepath.Join(s.Dist, a.Name)), s.rel(filepath.Join(s.Dist, f.Name)), artifact.ProvenanceType)...))
				}
			}
		}
	}
	for _, img := range s.Checked.Images {
		cmds = append(cmds, run.Quote("cosign", v.ImageArgs(img.Ref())...))
		for _, a := range s.Checked.Attestations {
			if repoOf(a.Image) == img.Repo {
				cmds = append(cmds, run.Quote("cosign", v.AttestationArgs(a.Image, a.Type)...))
			}
		}
	}
	return cmds
}

func (s Summary) rel(p string) string {
	if r, err := filepath.Rel(s.Root, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

func duration(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return d.Round(100 * time.Millisecond).String()
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
