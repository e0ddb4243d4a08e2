// Package provenance writes and checks SLSA v1 provenance (https://slsa.dev/provenance/v1) for
// what a release builds: an in-toto v1 statement whose subjects are the artifacts' digests and
// whose predicate records the source, the build flags, every resolved dependency and who built
// it. The documents are built with in-toto's own Go bindings (github.com/in-toto/attestation),
// the types cosign reads them back into, so they cannot drift from the schema.
//
// Builder ids tell a laptop from CI: in GitHub Actions the workflow identity
// (https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/tags/v1.2.3, the subject of a
// keyless signature's certificate); anywhere else LocalBuilder, with the machine's host name in
// the internal parameters.
package provenance

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/purl"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools"
)

// module is this project's module path. URIs of the project's own derive from it, and `mage init`
// rewrites it, so a renamed project names its own build type and builder.
const module = "github.com/slipway-dev/slipway"

const (
	// PredicateType is SLSA provenance v1; cosign calls it --type slsaprovenance1.
	PredicateType = "https://slsa.dev/provenance/v1"
	// BuildType names this project's release build: what externalParameters and
	// internalParameters mean (see Inputs). Version it when their meaning changes.
	BuildType = "https://" + module + "/buildtypes/release/v1"
	// LocalBuilder is the builder id of every build outside CI: a developer's machine, whose
	// trust is the person's signing key, not a hosted platform's.
	LocalBuilder = "https://" + module + "/local-builder"
)

// Subject is one artifact the statement is about.
type Subject struct {
	Name   string // file name, or image repository
	SHA256 string // hex digest of the file, or of the image manifest or index
}

// Image is a base image by digest.
type Image struct {
	Repository string // e.g. gcr.io/distroless/static-debian12
	Digest     string // sha256:<hex>
}

// Tool is a pinned tool the release ran (tools/<name>/go.mod; see tools.Tool.Version).
type Tool struct {
	Name, Package, Version string
}

// PinnedTools lists every pinned tool of the checkout at root with its version.
func PinnedTools(root string) ([]Tool, error) {
	var out []Tool
	for _, t := range tools.All {
		v, err := t.Version(root)
		if err != nil {
			return nil, fmt.Errorf("provenance: %w", err)
		}
		out = append(out, Tool{Name: t.Name, Package: t.Package, Version: v})
	}
	return out, nil
}

// Inputs is everything a statement records. Only Subjects differ between the statements of one
// release.
type Inputs struct {
	Subjects []Subject

	// External parameters: what the person or workflow that started the release chose.
	Repository string   // source repository URL, e.g. https://github.com/slipway-dev/slipway
	Commit     string   // the full commit hash built
	Version    string   // the release version or tag
	Platforms  []string // os/arch[/variant] built

	// Internal parameters: how this project builds, e.g. GOFLAGS, ldflags and CGO_ENABLED as
	// internal/pipeline/gobuild defines them.
	BuildFlags map[string]string

	// Resolved dependencies besides the source commit.
	GoSum      []byte // the module's go.sum: every module with its h1 hash
	GoVersion  string // the toolchain, as `go env GOVERSION` prints it: go1.26.8
	BaseImages []Image
	Tools      []Tool

	Run               Run
	Started, Finished time.Time
}

// Statement is the in-toto statement for in.Subjects, as JSON: the input of
// `cosign attest-blob --statement`, which signs one bundle for all the subjects.
func Statement(in Inputs) ([]byte, error) {
	if len(in.Subjects) == 0 {
		return nil, errors.New("provenance: no subjects: a statement must name the artifacts it describes")
	}
	pred, err := predicate(in)
	if err != nil {
		return nil, err
	}
	st := &intoto.Statement{Type: intoto.StatementTypeUri, PredicateType: PredicateType, Predicate: pred}
	for _, s := range in.Subjects {
		st.Subject = append(st.Subject, &intoto.ResourceDescriptor{Name: s.Name, Digest: map[string]string{"sha256": s.SHA256}})
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("provenance: subjects %v: %w", in.Subjects, err)
	}
	return marshal(st)
}

// Predicate is the provenance predicate alone, as JSON: the input of
// `cosign attest --type slsaprovenance1 --predicate`, which makes the image digest the subject.
// in.Subjects is ignored.
func Predicate(in Inputs) ([]byte, error) {
	pred, err := predicate(in)
	if err != nil {
		return nil, err
	}
	return marshal(pred)
}

func predicate(in Inputs) (*structpb.Struct, error) {
	p, err := provenance(in)
	if err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	// A statement's predicate is a generic JSON object; the typed message goes through JSON.
	data, err := protojson.Marshal(p)
	if err != nil {
		return nil, err
	}
	s := &structpb.Struct{}
	return s, protojson.Unmarshal(data, s)
}

func provenance(in Inputs) (*slsa.Provenance, error) {
	var problems []string
	need := func(v, what string) {
		if strings.TrimSpace(v) == "" {
			problems = append(problems, what+" is empty")
		}
	}
	need(in.Repository, "the source repository")
	need(in.Version, "the version")
	need(in.Run.BuilderID, "the builder id (see FromEnv)")
	need(in.Run.InvocationID, "the invocation id (see FromEnv)")
	if len(in.Platforms) == 0 {
		problems = append(problems, "no platforms")
	}
	if !isHex(in.Commit, 40) {
		problems = append(problems, fmt.Sprintf("commit %q is not a full 40-digit hash", in.Commit))
	}
	if !strings.HasPrefix(in.GoVersion, "go") {
		problems = append(problems, fmt.Sprintf("Go version %q: want the form go1.26.8 (`go env GOVERSION`)", in.GoVersion))
	}
	if in.Started.IsZero() || in.Finished.Before(in.Started) {
		problems = append(problems, fmt.Sprintf("build times %s to %s: want a start and a finish after it", in.Started, in.Finished))
	}
	if _, ok := in.BuildFlags[hostParam]; ok {
		problems = append(problems, fmt.Sprintf("build flag %q collides with the builder's host name", hostParam))
	}
	mods, err := goSumModules(in.GoSum)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("provenance: %s", strings.Join(problems, "; "))
	}

	external, err := structpb.NewStruct(map[string]any{
		"repository": in.Repository,
		"commit":     in.Commit,
		"version":    in.Version,
		"platforms":  toAny(in.Platforms),
	})
	if err != nil {
		return nil, err
	}
	internalMap := map[string]any{}
	for k, v := range in.BuildFlags {
		internalMap[k] = v
	}
	if in.Run.Host != "" {
		internalMap[hostParam] = in.Run.Host
	}
	internal, err := structpb.NewStruct(internalMap)
	if err != nil {
		return nil, err
	}

	deps := []*intoto.ResourceDescriptor{
		{Uri: sourceURI(in.Repository), Digest: map[string]string{"gitCommit": in.Commit}},
		// stdlib is the name Go's vulnerability database and scanners give the toolchain's packages.
		{Name: "go", Uri: purl.Go("stdlib", "v"+strings.TrimPrefix(in.GoVersion, "go"))},
	}
	for _, img := range in.BaseImages {
		hexDigest, ok := strings.CutPrefix(img.Digest, "sha256:")
		if !ok {
			return nil, fmt.Errorf("provenance: base image %s digest %q: want sha256:<hex>", img.Repository, img.Digest)
		}
		deps = append(deps, &intoto.ResourceDescriptor{Uri: purl.OCI(img.Repository, img.Digest), Digest: map[string]string{"sha256": hexDigest}})
	}
	tools := slices.Clone(in.Tools)
	slices.SortFunc(tools, func(a, b Tool) int { return strings.Compare(a.Name, b.Name) })
	for _, t := range tools {
		deps = append(deps, &intoto.ResourceDescriptor{Name: t.Name, Uri: purl.Go(t.Package, t.Version)})
	}
	deps = append(deps, mods...)

	return &slsa.Provenance{
		BuildDefinition: &slsa.BuildDefinition{
			BuildType:            BuildType,
			ExternalParameters:   external,
			InternalParameters:   internal,
			ResolvedDependencies: deps,
		},
		RunDetails: &slsa.RunDetails{
			Builder: &slsa.Builder{Id: in.Run.BuilderID},
			Metadata: &slsa.BuildMetadata{
				InvocationId: in.Run.InvocationID,
				StartedOn:    timestamppb.New(in.Started),
				FinishedOn:   timestamppb.New(in.Finished),
			},
		},
	}, nil
}

// hostParam is the internal parameter holding a local builder's host name.
const hostParam = "host"

// sourceURI is the source as SLSA names a git repository: git+https://github.com/OWNER/REPO.
func sourceURI(repo string) string {
	return "git+" + trimRepo(repo)
}

// trimRepo drops what two spellings of one repository URL may differ in.
func trimRepo(r string) string {
	return strings.TrimSuffix(strings.TrimSuffix(r, "/"), ".git")
}

// goSumModules lists go.sum's modules with their hashes, as dirHash digests (in-toto's name for
// Go's h1 hash, in hex). Lines for a go.mod file alone (path version/go.mod h1:...) are left
// out: the go command needed only that module's go.mod to resolve versions, none of its code.
func goSumModules(goSum []byte) ([]*intoto.ResourceDescriptor, error) {
	var mods []*intoto.ResourceDescriptor
	for i, line := range strings.Split(string(goSum), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		h1, ok := "", len(f) == 3
		if ok {
			h1, ok = strings.CutPrefix(f[2], "h1:")
		}
		sum, err := base64.StdEncoding.DecodeString(h1)
		if !ok || err != nil || len(sum) != 32 {
			return nil, fmt.Errorf("go.sum line %d %q: want `module version h1:<base64 sha256>`; run `go mod tidy`", i+1, line)
		}
		if strings.HasSuffix(f[1], "/go.mod") {
			continue
		}
		mods = append(mods, &intoto.ResourceDescriptor{Uri: purl.Go(f[0], f[1]), Digest: map[string]string{"dirHash": hex.EncodeToString(sum)}})
	}
	if len(mods) == 0 {
		return nil, errors.New("go.sum lists no module: pass the module's go.sum (a module with dependencies has one)")
	}
	return mods, nil
}

// marshal writes protojson with stable whitespace: protojson varies it on purpose between builds.
func marshal(m proto.Message) ([]byte, error) {
	data, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, data, "", "  "); err != nil {
		return nil, err
	}
	return append(out.Bytes(), '\n'), nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func isHex(s string, n int) bool {
	_, err := hex.DecodeString(s)
	return len(s) == n && err == nil
}
