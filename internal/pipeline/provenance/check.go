package provenance

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// The ways a statement can fail Check; the error wraps one or more of them.
var (
	ErrNotProvenance = errors.New("not SLSA v1 provenance")
	ErrBuildType     = errors.New("another build type")
	ErrDigest        = errors.New("no subject with the artifact's digest")
	ErrRepository    = errors.New("another source repository")
	ErrCommit        = errors.New("another commit")
	ErrBuilder       = errors.New("another builder")
)

// Expect is what a verifier requires of a statement. Every field is required: an empty one would
// let anything through.
type Expect struct {
	SHA256     string // the artifact's digest, hex, with or without "sha256:"
	Repository string // the source repository URL
	Commit     string // the full commit hash
	BuilderID  string // LocalBuilder, or the workflow identity of a CI release
}

// dsseInToto is the payload type of a DSSE envelope carrying an in-toto statement.
const dsseInToto = "application/vnd.in-toto+json"

// Check reads a provenance statement, bare, in a DSSE envelope (one line of
// `cosign verify-attestation` output) or in a Sigstore bundle (`cosign attest-blob --bundle`),
// and returns one error per way it differs from want, each wrapping one of the Err values above.
// It checks content only: that the signature is the release's identity is cosign's to verify.
func Check(data []byte, want Expect) error {
	want.SHA256 = strings.TrimPrefix(want.SHA256, "sha256:")
	var missing []string
	for _, f := range [][2]string{{"digest", want.SHA256}, {"repository", want.Repository}, {"commit", want.Commit}, {"builder id", want.BuilderID}} {
		if f[1] == "" {
			missing = append(missing, f[0])
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("provenance check: no expected %s given", strings.Join(missing, ", "))
	}
	payload, err := Payload(data)
	if err != nil {
		return err
	}
	var st intoto.Statement
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(payload, &st); err != nil {
		return fmt.Errorf("%w: not an in-toto statement: %w", ErrNotProvenance, err)
	}
	if err := st.Validate(); err != nil {
		return fmt.Errorf("%w: invalid in-toto statement: %w", ErrNotProvenance, err)
	}
	if st.PredicateType != PredicateType {
		return fmt.Errorf("%w: predicate type %s, want %s", ErrNotProvenance, st.PredicateType, PredicateType)
	}
	predJSON, err := protojson.Marshal(st.Predicate)
	if err != nil {
		return err
	}
	var p slsa.Provenance
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(predJSON, &p); err != nil {
		return fmt.Errorf("%w: predicate: %w", ErrNotProvenance, err)
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrNotProvenance, err)
	}
	bd := p.GetBuildDefinition()
	if bd.GetBuildType() != BuildType {
		// The parameters below mean what BuildType says; another type's cannot be read as ours.
		return fmt.Errorf("%w: %s, want %s", ErrBuildType, bd.GetBuildType(), BuildType)
	}

	var errs []error
	var digests []string
	found := false
	for _, s := range st.GetSubject() {
		d := s.GetDigest()["sha256"]
		digests = append(digests, s.GetName()+"@sha256:"+d)
		found = found || strings.EqualFold(d, want.SHA256)
	}
	if !found {
		errs = append(errs, fmt.Errorf("%w: want sha256:%s, the statement is about %s", ErrDigest, want.SHA256, strings.Join(digests, ", ")))
	}

	ext := bd.GetExternalParameters().GetFields()
	if got := ext["repository"].GetStringValue(); trimRepo(got) != trimRepo(want.Repository) {
		errs = append(errs, fmt.Errorf("%w: externalParameters.repository is %q, want %q", ErrRepository, got, want.Repository))
	}
	if got := ext["commit"].GetStringValue(); got != want.Commit {
		errs = append(errs, fmt.Errorf("%w: externalParameters.commit is %q, want %q", ErrCommit, got, want.Commit))
	}
	// The resolved source must agree with the parameters: a statement saying one thing in each
	// is not evidence of either.
	src := sourceURI(want.Repository)
	var sources []string
	var commits []string
	for _, d := range bd.GetResolvedDependencies() {
		if c, ok := d.GetDigest()["gitCommit"]; ok {
			sources = append(sources, d.GetUri()+"@"+c)
			if d.GetUri() == src {
				commits = append(commits, c)
			}
		}
	}
	switch {
	case len(commits) == 0:
		errs = append(errs, fmt.Errorf("%w: resolvedDependencies hold source %v, want %s", ErrRepository, sources, src))
	case len(commits) > 1 || commits[0] != want.Commit:
		errs = append(errs, fmt.Errorf("%w: resolvedDependencies hold %s at %v, want %s", ErrCommit, src, commits, want.Commit))
	}

	if got := p.GetRunDetails().GetBuilder().GetId(); got != want.BuilderID {
		errs = append(errs, fmt.Errorf("%w: built by %q, want %q", ErrBuilder, got, want.BuilderID))
	}
	return errors.Join(errs...)
}

// Payload unwraps a DSSE envelope or a Sigstore bundle to the in-toto statement it carries, as
// signed; anything else is taken for the statement itself.
func Payload(data []byte) ([]byte, error) {
	var doc struct {
		PayloadType  string    `json:"payloadType"`
		Payload      string    `json:"payload"`
		DSSEEnvelope *struct { // Sigstore bundle
			PayloadType string `json:"payloadType"`
			Payload     string `json:"payload"`
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %w", ErrNotProvenance, err)
	}
	if doc.DSSEEnvelope != nil {
		doc.PayloadType, doc.Payload = doc.DSSEEnvelope.PayloadType, doc.DSSEEnvelope.Payload
	}
	if doc.PayloadType == "" && doc.Payload == "" {
		return data, nil
	}
	if doc.PayloadType != dsseInToto {
		return nil, fmt.Errorf("%w: envelope payload type %q, want %s", ErrNotProvenance, doc.PayloadType, dsseInToto)
	}
	payload, err := base64.StdEncoding.DecodeString(doc.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: envelope payload is not base64: %w", ErrNotProvenance, err)
	}
	return payload, nil
}
