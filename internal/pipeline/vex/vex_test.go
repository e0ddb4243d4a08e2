package vex

import (
	"slices"
	"strings"
	"testing"
	"time"

	openvex "github.com/openvex/go-vex/pkg/vex"

	"github.com/slipway-dev/slipway/internal/pipeline/quality"
)

const (
	module   = "github.com/slipway-dev/slipway"
	xmod     = "golang.org/x/mod"
	xnet     = "golang.org/x/net"
	repo     = "ghcr.io/slipway-dev/slipway"
	index    = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	manifest = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

var now = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

// govulncheck's verdict on a build with three advisories: one called (by two symbols), one
// whose package is imported but not called, one whose module is required but not imported.
func result() quality.VulnResult {
	return quality.VulnResult{
		Ran: true,
		Findings: []quality.Finding{
			{ID: "GO-2099-0001", Module: xmod, Version: "v0.42.0", Fixed: "v0.43.0", Package: xmod + "/semver", Symbol: xmod + "/semver.IsValid", Caller: "cmd/slipway/main.go:12"},
			{ID: "GO-2099-0001", Module: xmod, Version: "v0.42.0", Fixed: "v0.43.0", Package: xmod + "/semver", Symbol: xmod + "/semver.Compare", Caller: "internal/version/version.go:40"},
		},
		Imported: []quality.Finding{
			{ID: "GO-2099-0003", Module: xnet, Version: "v0.50.0", Package: xnet + "/html"},
			{ID: "GO-2099-0002", Module: xmod, Version: "v0.42.0", Fixed: "v0.43.0"},
		},
		Aliases: map[string][]string{
			"GO-2099-0001": {"GHSA-aaaa-bbbb-cccc", "CVE-2099-0001"},
			"GO-2099-0002": {"CVE-2099-0002"},
		},
	}
}

func inputs() Inputs {
	return Inputs{
		Module:      module,
		Images:      []Image{{Repository: repo, Digests: []string{index, manifest}}},
		Govulncheck: result(),
		Author:      "https://github.com/slipway-dev/slipway",
		Timestamp:   now,
	}
}

func document(t *testing.T, in Inputs) *openvex.VEX {
	t.Helper()
	data, err := Document(in)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openvex.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Context != openvex.ContextLocator() || !strings.HasPrefix(doc.ID, "https://openvex.dev/docs/public/vex-") ||
		doc.Author != in.Author || !doc.Timestamp.Equal(in.Timestamp) || doc.Version != 1 {
		t.Fatalf("document metadata %+v", doc.Metadata)
	}
	for i := range doc.Statements {
		if err := doc.Statements[i].Validate(); err != nil {
			t.Errorf("statement %s: %v", doc.Statements[i].Vulnerability.Name, err)
		}
	}
	return doc
}

func byName(t *testing.T, doc *openvex.VEX, name string) openvex.Statement {
	t.Helper()
	for _, st := range doc.Statements {
		if string(st.Vulnerability.Name) == name {
			return st
		}
	}
	t.Fatalf("no statement for %s", name)
	return openvex.Statement{}
}

func TestReachabilityDecidesTheStatus(t *testing.T) {
	doc := document(t, inputs())
	var names []string
	for _, st := range doc.Statements {
		names = append(names, string(st.Vulnerability.Name))
	}
	if !slices.Equal(names, []string{"GO-2099-0001", "GO-2099-0002", "GO-2099-0003"}) {
		t.Fatalf("statements %v, want one per advisory, sorted", names)
	}

	called := byName(t, doc, "GO-2099-0001")
	if called.Status != openvex.StatusAffected || called.Justification != "" ||
		called.ActionStatement != "Upgrade golang.org/x/mod to v0.43.0 or later." ||
		!strings.Contains(called.StatusNotes, "semver.Compare (from internal/version/version.go:40), golang.org/x/mod/semver.IsValid (from cmd/slipway/main.go:12)") {
		t.Errorf("called advisory: %+v", called)
	}
	if got := called.Vulnerability.Aliases; !slices.Equal(got, []openvex.VulnerabilityID{"CVE-2099-0001", "GHSA-aaaa-bbbb-cccc"}) {
		t.Errorf("aliases %v, want the CVE and GHSA ids, sorted", got)
	}

	for name, says := range map[string]string{
		"GO-2099-0002": "golang.org/x/mod@v0.42.0 is required, but no package with vulnerable code is imported",
		"GO-2099-0003": "package golang.org/x/net/html is imported, but none of its vulnerable code is called",
	} {
		st := byName(t, doc, name)
		if st.Status != openvex.StatusNotAffected || st.Justification != openvex.VulnerableCodeNotInExecutePath || !strings.Contains(st.ImpactStatement, says) {
			t.Errorf("%s: %+v", name, st)
		}
	}

	// Every statement names the module and each image digest, with the vulnerable module inside.
	wantProducts := []string{"pkg:golang/github.com/slipway-dev/slipway",
		"pkg:oci/slipway@" + index + "?repository_url=ghcr.io%2Fslipway-dev%2Fslipway",
		"pkg:oci/slipway@" + manifest + "?repository_url=ghcr.io%2Fslipway-dev%2Fslipway"}
	for _, st := range doc.Statements {
		var got []string
		for _, p := range st.Products {
			got = append(got, p.ID)
			want := "pkg:golang/golang.org/x/mod@v0.42.0"
			if st.Vulnerability.Name == "GO-2099-0003" {
				want = "pkg:golang/golang.org/x/net@v0.50.0"
			}
			if len(p.Subcomponents) != 1 || p.Subcomponents[0].ID != want {
				t.Errorf("%s product %s: subcomponents %+v, want %s", st.Vulnerability.Name, p.ID, p.Subcomponents, want)
			}
		}
		if !slices.Equal(got, wantProducts) {
			t.Errorf("%s products %v, want %v", st.Vulnerability.Name, got, wantProducts)
		}
	}

	// No fix yet: the action says what else can be done.
	in := inputs()
	for i := range in.Govulncheck.Findings {
		in.Govulncheck.Findings[i].Fixed = ""
	}
	if st := byName(t, document(t, in), "GO-2099-0001"); !strings.HasPrefix(st.ActionStatement, "No fixed version of golang.org/x/mod yet") {
		t.Errorf("action without a fix: %q", st.ActionStatement)
	}
}

func TestAcceptedFindingsMerge(t *testing.T) {
	in := inputs()
	next := now.AddDate(0, 3, 0)
	in.Accepted = []Accepted{
		// By its CVE alias, as Trivy reports it: a person accepted called code.
		{ID: "CVE-2099-0001", Statement: "only parses our own version strings", ExpiredAt: next},
		// One govulncheck already proved unreachable.
		{ID: "GO-2099-0002", Statement: "not used", ExpiredAt: next},
		// Only Trivy knows it (a base image package, say).
		{ID: "CVE-2099-9999", Statement: "the image never runs a shell", ExpiredAt: next},
		// Expired, and expiring at this very moment: left out.
		{ID: "CVE-2099-8888", Statement: "old", ExpiredAt: now.AddDate(0, 0, -1)},
		{ID: "CVE-2099-7777", Statement: "due now", ExpiredAt: now},
	}
	doc := document(t, in)
	if len(doc.Statements) != 4 {
		t.Fatalf("%d statements, want the three advisories and one accepted-only entry", len(doc.Statements))
	}
	until := "Accepted in .trivyignore.yaml until " + next.Format(time.DateOnly)

	st := byName(t, doc, "GO-2099-0001")
	if st.Status != openvex.StatusNotAffected || st.Justification != openvex.InlineMitigationsAlreadyExist ||
		st.ImpactStatement != "only parses our own version strings" || st.ActionStatement != "" ||
		!strings.HasPrefix(st.StatusNotes, until) || !strings.Contains(st.StatusNotes, "vulnerable code is called") {
		t.Errorf("accepted called advisory: %+v", st)
	}
	st = byName(t, doc, "GO-2099-0002")
	if st.Status != openvex.StatusNotAffected || st.Justification != openvex.VulnerableCodeNotInExecutePath || st.ImpactStatement != "not used" || !strings.HasPrefix(st.StatusNotes, until) {
		t.Errorf("accepted unreachable advisory: %+v", st)
	}
	st = byName(t, doc, "CVE-2099-9999")
	if st.Status != openvex.StatusNotAffected || st.Justification != openvex.InlineMitigationsAlreadyExist || len(st.Products) != 3 || len(st.Products[0].Subcomponents) != 0 {
		t.Errorf("accepted-only entry: %+v", st)
	}
}

func TestDocumentIsDeterministic(t *testing.T) {
	a, err := Document(inputs())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("document: %d bytes, %d statements", len(a), 3)
	in := inputs()
	slices.Reverse(in.Govulncheck.Findings)
	slices.Reverse(in.Govulncheck.Imported)
	slices.Reverse(in.Govulncheck.Aliases["GO-2099-0001"])
	if b, err := Document(in); err != nil || string(a) != string(b) {
		t.Errorf("reordered inputs gave another document (%v):\n%s\n%s", err, a, b)
	}
	in = inputs()
	in.Timestamp = now.Add(time.Hour)
	if b, _ := Document(in); string(a) == string(b) {
		t.Error("another timestamp gave the same document")
	}
}

// The statements must apply where Trivy looks for them: go-vex's matching is Trivy's.
// cf. trivy pkg/vex/openvex.go: Matches(vuln ID, product purl, [subcomponent purl]), latest
// statement wins, not_affected or fixed suppresses.
func TestStatementsMatchWhatTrivySees(t *testing.T) {
	doc := document(t, inputs())
	suppressed := func(id, product, sub string) bool {
		stmts := doc.Matches(id, product, []string{sub})
		return len(stmts) > 0 && stmts[len(stmts)-1].Status == openvex.StatusNotAffected
	}
	const sub = "pkg:golang/golang.org/x/mod@v0.42.0"
	for _, c := range []struct {
		name, id, product, sub string
		want                   bool
	}{
		// trivy fs: the main module from go.mod, with no version; Trivy lower-cases golang names.
		{"fs scan", "CVE-2099-0002", "pkg:golang/github.com/slipway-dev/slipway", sub, true},
		{"fs scan, lower-cased", "CVE-2099-0002", "pkg:golang/github.com/slipway-dev/slipway", "pkg:golang/golang.org/x/MOD@v0.42.0", true},
		// trivy image: the image by the digest it was given, with its architecture.
		{"image scan", "CVE-2099-0002", "pkg:oci/slipway@" + index + "?arch=amd64&repository_url=ghcr.io%2Fslipway-dev%2Fslipway", sub, true},
		{"platform image", "GO-2099-0002", "pkg:oci/slipway@" + manifest + "?arch=arm64&repository_url=ghcr.io%2Fslipway-dev%2Fslipway", sub, true},
		{"called: affected, not suppressed", "CVE-2099-0001", "pkg:golang/github.com/slipway-dev/slipway", sub, false},
		{"another version of the module", "CVE-2099-0002", "pkg:golang/github.com/slipway-dev/slipway", "pkg:golang/golang.org/x/mod@v0.41.0", false},
		{"another image", "CVE-2099-0002", "pkg:oci/slipway@" + strings.Repeat("3", 64) + "?repository_url=ghcr.io%2Fslipway-dev%2Fslipway", sub, false},
		{"another repository", "CVE-2099-0002", "pkg:oci/slipway@" + index + "?repository_url=docker.io%2Fsomeone%2Fslipway", sub, false},
		{"another module", "CVE-2099-0002", "pkg:golang/example.com/other", sub, false},
	} {
		if got := suppressed(c.id, c.product, c.sub); got != c.want {
			t.Errorf("%s: suppressed = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestDocumentRejectsBadInputs(t *testing.T) {
	for name, c := range map[string]struct {
		edit func(*Inputs)
		want string
	}{
		"govulncheck not run": {func(in *Inputs) { in.Govulncheck = quality.VulnResult{NotRun: "offline, no vulnerability database"} }, "govulncheck did not run (offline, no vulnerability database)"},
		"no module":           {func(in *Inputs) { in.Module = "" }, "no module"},
		"no author":           {func(in *Inputs) { in.Author = "" }, "no author"},
		"no timestamp":        {func(in *Inputs) { in.Timestamp = time.Time{} }, "no timestamp"},
		"bad digest":          {func(in *Inputs) { in.Images[0].Digests = []string{"latest"} }, `digest "latest": want sha256:<hex>`},
	} {
		t.Run(name, func(t *testing.T) {
			in := inputs()
			c.edit(&in)
			if _, err := Document(in); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
}
