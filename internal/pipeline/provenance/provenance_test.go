package provenance

import (
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"golang.org/x/mod/modfile"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools"
)

const (
	commit   = "0123456789abcdef0123456789abcdef01234567"
	archive  = "slipway_1.2.3_linux_amd64.tar.gz"
	digestA  = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB  = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	baseHex  = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	repoURL  = "https://github.com/slipway-dev/slipway"
	workflow = "https://github.com/slipway-dev/slipway/.github/workflows/release.yml@refs/tags/v1.2.3"
)

// rootFile reads a file of this checkout, e.g. go.sum: the real input, with its mix of module
// and go.mod lines.
func rootFile(t *testing.T, name string) []byte {
	t.Helper()
	root := projecttest.Root(t)
	data, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func inputs(t *testing.T) Inputs {
	t.Helper()
	start := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	return Inputs{
		Subjects:   []Subject{{Name: archive, SHA256: digestA}, {Name: "slipway_1.2.3_linux_arm64.tar.gz", SHA256: digestB}},
		Repository: repoURL,
		Commit:     commit,
		Version:    "v1.2.3",
		Platforms:  []string{"linux/amd64", "linux/arm64"},
		BuildFlags: map[string]string{"GOFLAGS": "-trimpath -buildvcs=false", "ldflags": "-s -w -buildid=", "CGO_ENABLED": "0"},
		GoSum:      rootFile(t, "go.sum"),
		GoVersion:  "go1.26.8",
		BaseImages: []Image{{Repository: "gcr.io/distroless/static-debian12", Digest: "sha256:" + baseHex}},
		Tools: []Tool{
			{Name: "goreleaser", Package: "github.com/goreleaser/goreleaser/v2", Version: "v2.12.0"},
			{Name: "cosign", Package: "github.com/sigstore/cosign/v3/cmd/cosign", Version: "v3.1.3"},
		},
		Run:      Run{BuilderID: LocalBuilder, InvocationID: "urn:uuid:2f1c6c3e-8a8b-4c5e-9a51-3f0e1f0c2d7a", Host: "laptop"},
		Started:  start,
		Finished: start.Add(3 * time.Minute),
	}
}

// decode reads a statement back with in-toto's own types, strictly: a field the schema does
// not know fails here.
func decode(t *testing.T, data []byte) (*intoto.Statement, *slsa.Provenance) {
	t.Helper()
	var st intoto.Statement
	if err := protojson.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}
	pj, err := protojson.Marshal(st.Predicate)
	if err != nil {
		t.Fatal(err)
	}
	return &st, decodePredicate(t, pj)
}

func decodePredicate(t *testing.T, data []byte) *slsa.Provenance {
	t.Helper()
	var p slsa.Provenance
	if err := protojson.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return &p
}

func TestStatementRecordsTheBuild(t *testing.T) {
	in := inputs(t)
	data, err := Statement(in)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("statement: %d bytes", len(data))
	st, p := decode(t, data)
	if st.Type != intoto.StatementTypeUri || st.PredicateType != PredicateType {
		t.Fatalf("type %s, predicate type %s", st.Type, st.PredicateType)
	}
	if len(st.Subject) != 2 || st.Subject[0].Name != archive || st.Subject[0].Digest["sha256"] != digestA || st.Subject[1].Digest["sha256"] != digestB {
		t.Fatalf("subjects %v", st.Subject)
	}

	bd := p.BuildDefinition
	if bd.BuildType != BuildType {
		t.Errorf("build type %s", bd.BuildType)
	}
	ext := bd.ExternalParameters.AsMap()
	if ext["repository"] != repoURL || ext["commit"] != commit || ext["version"] != "v1.2.3" ||
		!slices.Equal(toStrings(ext["platforms"]), in.Platforms) {
		t.Errorf("external parameters %v", ext)
	}
	internal := bd.InternalParameters.AsMap()
	for k, v := range in.BuildFlags {
		if internal[k] != v {
			t.Errorf("internal parameter %s = %v, want %q", k, internal[k], v)
		}
	}
	if internal["host"] != "laptop" {
		t.Errorf("a local build's host is not recorded: %v", internal)
	}

	byURI := map[string]*intoto.ResourceDescriptor{}
	for _, d := range bd.ResolvedDependencies {
		byURI[d.Uri] = d
	}
	if d := byURI["git+"+repoURL]; d == nil || d.Digest["gitCommit"] != commit {
		t.Errorf("source dependency %v", d)
	}
	if d := byURI["pkg:golang/stdlib@v1.26.8"]; d == nil || d.Name != "go" {
		t.Errorf("toolchain dependency %v", d)
	}
	base := "pkg:oci/static-debian12@sha256:" + baseHex + "?repository_url=gcr.io%2Fdistroless%2Fstatic-debian12"
	if d := byURI[base]; d == nil || d.Digest["sha256"] != baseHex {
		t.Errorf("base image dependency missing: want %s in %v", base, keys(byURI))
	}
	if d := byURI["pkg:golang/github.com/sigstore/cosign/v3/cmd/cosign@v3.1.3"]; d == nil || d.Name != "cosign" {
		t.Errorf("tool dependency %v", d)
	}

	// Every module line of go.sum, with its h1 hash in hex; go.mod-only lines are not modules
	// whose code was used.
	var want int
	for _, line := range strings.Split(string(in.GoSum), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || strings.HasSuffix(f[1], "/go.mod") {
			continue
		}
		want++
		sum, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(f[2], "h1:"))
		uri := "pkg:golang/" + f[0] + "@" + f[1]
		if d := byURI[uri]; d == nil || d.Digest["dirHash"] != hex.EncodeToString(sum) {
			t.Errorf("go.sum module %s: dependency %v", uri, d)
		}
	}
	if got := len(bd.ResolvedDependencies) - 5; want == 0 || got != want { // source, go, base image, two tools
		t.Errorf("%d module dependencies, want go.sum's %d", got, want)
	}

	rd := p.RunDetails
	if rd.Builder.Id != LocalBuilder || rd.Metadata.InvocationId != in.Run.InvocationID ||
		!rd.Metadata.StartedOn.AsTime().Equal(in.Started) || !rd.Metadata.FinishedOn.AsTime().Equal(in.Finished) {
		t.Errorf("run details %v", rd)
	}

	again, err := Statement(in)
	if err != nil || string(again) != string(data) {
		t.Error("the same inputs gave another statement")
	}
}

// Predicate is what `cosign attest --type slsaprovenance1` wraps: it must read as the typed
// predicate cosign decodes it into, and say the same as the statement's.
func TestPredicateIsTheStatementsPredicate(t *testing.T) {
	in := inputs(t)
	data, err := Predicate(in)
	if err != nil {
		t.Fatal(err)
	}
	p := decodePredicate(t, data)
	stmt, err := Statement(in)
	if err != nil {
		t.Fatal(err)
	}
	_, fromStatement := decode(t, stmt)
	if a, b := protojson.Format(p), protojson.Format(fromStatement); a != b {
		t.Errorf("predicate differs from the statement's:\n%s\n%s", a, b)
	}
	// Images get their subject from cosign: the predicate needs none.
	in.Subjects = nil
	if _, err := Predicate(in); err != nil {
		t.Errorf("predicate without subjects: %v", err)
	}
	if _, err := Statement(in); err == nil || !strings.Contains(err.Error(), "no subjects") {
		t.Errorf("statement without subjects: %v", err)
	}
}

func TestStatementRejectsBadInputs(t *testing.T) {
	for name, c := range map[string]struct {
		edit func(*Inputs)
		want string
	}{
		"no repository":     {func(in *Inputs) { in.Repository = "" }, "source repository is empty"},
		"short commit":      {func(in *Inputs) { in.Commit = "0123abc" }, `commit "0123abc" is not a full 40-digit hash`},
		"no version":        {func(in *Inputs) { in.Version = "" }, "version is empty"},
		"no platforms":      {func(in *Inputs) { in.Platforms = nil }, "no platforms"},
		"no builder":        {func(in *Inputs) { in.Run = Run{} }, "builder id (see FromEnv) is empty"},
		"go version":        {func(in *Inputs) { in.GoVersion = "1.26.8" }, `Go version "1.26.8"`},
		"finish before":     {func(in *Inputs) { in.Finished = in.Started.Add(-time.Second) }, "want a start and a finish after it"},
		"no start":          {func(in *Inputs) { in.Started = time.Time{} }, "want a start and a finish after it"},
		"host flag":         {func(in *Inputs) { in.BuildFlags["host"] = "x" }, `build flag "host" collides`},
		"malformed go.sum":  {func(in *Inputs) { in.GoSum = []byte("golang.org/x/mod v0.42.0\n") }, "go.sum line 1"},
		"non-h1 hash":       {func(in *Inputs) { in.GoSum = []byte("golang.org/x/mod v0.42.0 h2:abc=\n") }, "go.sum line 1"},
		"empty go.sum":      {func(in *Inputs) { in.GoSum = nil }, "go.sum lists no module"},
		"subject digest":    {func(in *Inputs) { in.Subjects[0].SHA256 = "abc" }, "digest"},
		"base image digest": {func(in *Inputs) { in.BaseImages[0].Digest = baseHex }, "want sha256:<hex>"},
	} {
		t.Run(name, func(t *testing.T) {
			in := inputs(t)
			c.edit(&in)
			_, err := Statement(in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
	// Every problem at once, so a caller fixes them in one go.
	in := inputs(t)
	in.Repository, in.Version = "", ""
	if _, err := Statement(in); err == nil || !strings.Contains(err.Error(), "repository is empty; the version is empty") {
		t.Fatalf("err = %v, want both problems", err)
	}
}

var uuidRE = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestFromEnvLocal(t *testing.T) {
	env := map[string]string{"GITHUB_WORKFLOW_REF": "ignored/outside/actions"}
	a, err := FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	b, _ := FromEnv(func(k string) string { return env[k] })
	host, _ := os.Hostname()
	if a.BuilderID != LocalBuilder || a.Host != host || host == "" {
		t.Fatalf("local run %+v, want builder %s on host %q", a, LocalBuilder, host)
	}
	if !uuidRE.MatchString(a.InvocationID) || a.InvocationID == b.InvocationID {
		t.Fatalf("invocation ids %q, %q: want two different random UUIDs", a.InvocationID, b.InvocationID)
	}
}

func ciEnv() map[string]string {
	return map[string]string{
		"GITHUB_ACTIONS":      "true",
		"GITHUB_SERVER_URL":   "https://github.com",
		"GITHUB_WORKFLOW_REF": "slipway-dev/slipway/.github/workflows/release.yml@refs/tags/v1.2.3",
		"GITHUB_REPOSITORY":   "slipway-dev/slipway",
		"GITHUB_RUN_ID":       "123456",
		"GITHUB_RUN_ATTEMPT":  "2",
	}
}

func TestFromEnvGitHubActions(t *testing.T) {
	env := ciEnv()
	r, err := FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := Run{BuilderID: workflow, InvocationID: "https://github.com/slipway-dev/slipway/actions/runs/123456/attempts/2"}
	if r != want {
		t.Fatalf("CI run %+v, want %+v", r, want)
	}
	delete(env, "GITHUB_WORKFLOW_REF")
	delete(env, "GITHUB_RUN_ATTEMPT")
	_, err = FromEnv(func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "GITHUB_WORKFLOW_REF, GITHUB_RUN_ATTEMPT unset") {
		t.Fatalf("err = %v, want the missing variables named", err)
	}
}

func TestPinnedTools(t *testing.T) {
	root := projecttest.Root(t)
	got, err := PinnedTools(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(tools.All) {
		t.Fatalf("%d tools, want all %d pinned ones", len(got), len(tools.All))
	}
	for _, tool := range got {
		if !strings.HasPrefix(tool.Version, "v") {
			t.Errorf("%s: version %q", tool.Name, tool.Version)
		}
	}
	if _, err := PinnedTools(t.TempDir()); err == nil || !strings.Contains(err.Error(), "is not pinned") {
		t.Fatalf("a checkout without tools/: %v", err)
	}
}

// The project's URIs must follow the module path, which `mage init` renames.
func TestURIsFollowTheModulePath(t *testing.T) {
	if got := modfile.ModulePath(rootFile(t, "go.mod")); got != module {
		t.Fatalf("module constant %s, go.mod says %s", module, got)
	}
	for _, uri := range []string{BuildType, LocalBuilder} {
		if !strings.HasPrefix(uri, "https://"+module+"/") {
			t.Errorf("%s does not derive from the module path", uri)
		}
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
