// Package vex writes the release's OpenVEX document (https://openvex.dev): for every known
// vulnerability in what the release ships, whether the release is affected. govulncheck decides
// from reachability (a vulnerable module the code never calls is not_affected, a called one is
// affected); the accepted findings of .trivyignore.yaml add a person's verdict with its reason
// and expiry. The document is built with OpenVEX's own Go library (github.com/openvex/go-vex),
// which is also what Trivy reads it with.
//
// Products are what a scanner sees as the root of its findings, so that `trivy --vex` applies the
// statements (Trivy walks from the vulnerable package up to the scanned artifact and stops at the
// first product that matches):
//   - the Go module as pkg:golang/<module>, without a version, which matches whatever version
//     Trivy finds: none in a source scan (go.mod has none) nor in the release's binaries
//     (-buildvcs=false leaves the main module "(devel)", -trimpath keeps the -ldflags stamp out
//     of the build info and -s strips the symbols Trivy would fall back to);
//   - each image digest (the index and every platform manifest: Trivy names an image by the
//     digest it was asked for) as pkg:oci/<name>@sha256:...?repository_url=<repository>;
//
// with the vulnerable module as subcomponent, pkg:golang/<path>@<version>. A versionless product
// is why the document belongs with one release: another version may call what this one does not.
package vex

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	openvex "github.com/openvex/go-vex/pkg/vex"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/purl"
	"github.com/slipway-dev/slipway/internal/pipeline/quality"
)

// Image is one published image.
type Image struct {
	Repository string   // full name, as Trivy spells it: ghcr.io/owner/slipway, 127.0.0.1:5000/slipway
	Digests    []string // sha256:<hex> of the index and of each platform manifest
}

// Accepted is one accepted vulnerability of .trivyignore.yaml (the "vulnerabilities" entries
// scan.CheckIgnoreList returns; it has already refused expired ones).
type Accepted struct {
	ID        string // as Trivy reports it: CVE-..., GHSA-..., GO-...
	Statement string // why it is safe
	ExpiredAt time.Time
}

// Inputs is what the document says and about what.
type Inputs struct {
	Module      string // the main module path
	Images      []Image
	Govulncheck quality.VulnResult
	Accepted    []Accepted
	Author      string    // who vouches for it: the release's signer, e.g. the repository URL
	Timestamp   time.Time // when the verdicts were made: the document's only time, so equal inputs give equal bytes
}

// ignoreFile is scan.IgnoreFile, where accepted findings come from. Not imported: the scan gate
// is the package that will read this one's documents.
const ignoreFile = ".trivyignore.yaml"

// Document is the OpenVEX document for in, as indented JSON, one statement per vulnerability
// sorted by name. An accepted entry decides its vulnerability's status over govulncheck's (a
// person accepted it, called or not); entries that expired by in.Timestamp are left out.
func Document(in Inputs) ([]byte, error) {
	switch {
	case !in.Govulncheck.Ran:
		return nil, fmt.Errorf("vex: govulncheck did not run (%s): without its verdicts the document would claim nothing about reachability", in.Govulncheck.NotRun)
	case in.Module == "":
		return nil, errors.New("vex: no module: the main module path names the product")
	case in.Author == "":
		return nil, errors.New("vex: no author: name who vouches for the verdicts (the repository URL, or the signer)")
	case in.Timestamp.IsZero():
		return nil, errors.New("vex: no timestamp")
	}
	products := []openvex.Component{{ID: purl.Go(in.Module, "")}}
	for _, img := range in.Images {
		for _, d := range img.Digests {
			if !strings.HasPrefix(d, "sha256:") {
				return nil, fmt.Errorf("vex: image %s digest %q: want sha256:<hex>", img.Repository, d)
			}
			products = append(products, openvex.Component{ID: purl.OCI(img.Repository, d)})
		}
	}

	vulns := reachability(in.Govulncheck)
	for _, a := range in.Accepted {
		if !a.ExpiredAt.After(in.Timestamp) {
			continue
		}
		i := slices.IndexFunc(vulns, func(v verdict) bool { return v.name == a.ID || slices.Contains(v.aliases, a.ID) })
		if i < 0 {
			vulns = append(vulns, verdict{name: a.ID})
			i = len(vulns) - 1
		}
		vulns[i].accepted = &a
	}
	slices.SortFunc(vulns, func(a, b verdict) int { return strings.Compare(a.name, b.name) })

	doc := openvex.VEX{
		Metadata: openvex.Metadata{
			Context:   openvex.ContextLocator(),
			Author:    in.Author,
			Timestamp: &in.Timestamp,
			Version:   1,
			Tooling:   "govulncheck reachability and " + ignoreFile + " (" + in.Module + ")",
		},
		Statements: []openvex.Statement{},
	}
	for _, v := range vulns {
		st := v.statement()
		for _, p := range products {
			prod := openvex.Product{Component: p}
			if v.module != "" {
				prod.Subcomponents = []openvex.Subcomponent{{Component: openvex.Component{ID: purl.Go(v.module, v.version)}}}
			}
			st.Products = append(st.Products, prod)
		}
		if err := st.Validate(); err != nil {
			return nil, fmt.Errorf("vex: statement for %s: %w", v.name, err)
		}
		doc.Statements = append(doc.Statements, st)
	}
	if _, err := doc.GenerateCanonicalID(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := doc.ToJSON(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// verdict is what is known of one vulnerability.
type verdict struct {
	name            string
	aliases         []string
	module, version string // the vulnerable module in the build; empty for accepted-only entries
	pkg             string // the vulnerable package, when imported
	fixed           string
	calls           []string // symbol (from caller) pairs govulncheck found called
	accepted        *Accepted
}

// reachability turns govulncheck's findings into one verdict per advisory.
func reachability(r quality.VulnResult) []verdict {
	var out []verdict
	at := map[string]int{}
	add := func(f quality.Finding) *verdict {
		i, ok := at[f.ID]
		if !ok {
			aliases := slices.Clone(r.Aliases[f.ID])
			slices.Sort(aliases)
			out = append(out, verdict{name: f.ID, aliases: aliases, module: f.Module, version: f.Version, pkg: f.Package, fixed: f.Fixed})
			i = len(out) - 1
			at[f.ID] = i
		}
		return &out[i]
	}
	for _, f := range r.Findings {
		v := add(f)
		call := f.Symbol
		if f.Caller != "" {
			call += " (from " + f.Caller + ")"
		}
		v.calls = append(v.calls, call)
	}
	for _, f := range r.Imported {
		add(f)
	}
	for i := range out {
		slices.Sort(out[i].calls)
	}
	return out
}

func (v verdict) statement() openvex.Statement {
	st := openvex.Statement{Vulnerability: openvex.Vulnerability{Name: openvex.VulnerabilityID(v.name)}}
	for _, a := range v.aliases {
		st.Vulnerability.Aliases = append(st.Vulnerability.Aliases, openvex.VulnerabilityID(a))
	}
	found := v.govulncheck()
	switch {
	case v.accepted != nil:
		st.Status = openvex.StatusNotAffected
		st.Justification = openvex.InlineMitigationsAlreadyExist
		if v.module != "" && len(v.calls) == 0 {
			// govulncheck's proof is stronger than a person's word; both are recorded.
			st.Justification = openvex.VulnerableCodeNotInExecutePath
		}
		st.ImpactStatement = v.accepted.Statement
		st.StatusNotes = fmt.Sprintf("Accepted in %s until %s (expired_at): fix it or renew the entry by then.",
			ignoreFile, v.accepted.ExpiredAt.UTC().Format(time.DateOnly))
		if found != "" {
			st.StatusNotes += " " + found
		}
	case len(v.calls) > 0:
		st.Status = openvex.StatusAffected
		st.StatusNotes = found
		if v.fixed != "" {
			st.ActionStatement = fmt.Sprintf("Upgrade %s to %s or later.", v.module, v.fixed)
		} else {
			st.ActionStatement = fmt.Sprintf("No fixed version of %s yet: stop calling the vulnerable code, or accept it in %s with a statement and an expiry.", v.module, ignoreFile)
		}
	default:
		st.Status = openvex.StatusNotAffected
		st.Justification = openvex.VulnerableCodeNotInExecutePath
		st.ImpactStatement = found
	}
	return st
}

// govulncheck says what govulncheck found, or nothing for a vulnerability it does not know.
func (v verdict) govulncheck() string {
	switch {
	case v.module == "":
		return ""
	case len(v.calls) > 0:
		return fmt.Sprintf("govulncheck: %s@%s: vulnerable code is called: %s.", v.module, v.version, strings.Join(v.calls, ", "))
	case v.pkg != "":
		return fmt.Sprintf("govulncheck: %s@%s: package %s is imported, but none of its vulnerable code is called.", v.module, v.version, v.pkg)
	}
	return fmt.Sprintf("govulncheck: %s@%s is required, but no package with vulnerable code is imported.", v.module, v.version)
}
