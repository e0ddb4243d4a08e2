package provenance

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func expect() Expect {
	return Expect{SHA256: digestA, Repository: repoURL, Commit: commit, BuilderID: LocalBuilder}
}

func statement(t *testing.T) []byte {
	t.Helper()
	data, err := Statement(inputs(t))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// edit changes a statement the way a forger or another build would.
func edit(t *testing.T, data []byte, f func(st map[string]any, pred map[string]any)) []byte {
	t.Helper()
	var st map[string]any
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	f(st, st["predicate"].(map[string]any))
	out, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func path(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m = m[k].(map[string]any)
	}
	return m
}

func envelope(payload []byte) []byte {
	e, _ := json.Marshal(map[string]any{
		"payloadType": "application/vnd.in-toto+json",
		"payload":     base64.StdEncoding.EncodeToString(payload),
		"signatures":  []any{map[string]string{"keyid": "", "sig": "c2ln"}},
	})
	return e
}

func TestCheckAcceptsTheStatementHoweverWrapped(t *testing.T) {
	st := statement(t)
	bundle, _ := json.Marshal(map[string]any{
		"mediaType":    "application/vnd.dev.sigstore.bundle.v0.3+json",
		"dsseEnvelope": json.RawMessage(envelope(st)),
	})
	for name, data := range map[string][]byte{"bare": st, "DSSE envelope": envelope(st), "Sigstore bundle": bundle} {
		if err := Check(data, expect()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Either subject will do, with or without the algorithm prefix.
	want := expect()
	want.SHA256 = "sha256:" + digestB
	if err := Check(st, want); err != nil {
		t.Errorf("second subject: %v", err)
	}
}

func TestCheckFails(t *testing.T) {
	const otherCommit = "fedcba9876543210fedcba9876543210fedcba98"
	st := statement(t)
	for name, c := range map[string]struct {
		data []byte
		want func(*Expect)
		is   []error
		says string
	}{
		"an attestation for another digest": {
			st, func(e *Expect) { e.SHA256 = strings.Repeat("d", 64) }, []error{ErrDigest}, "the statement is about " + archive + "@sha256:" + digestA,
		},
		"another commit": {
			st, func(e *Expect) { e.Commit = otherCommit }, []error{ErrCommit}, "externalParameters.commit is",
		},
		"another builder: a laptop's statement where CI's is expected": {
			st, func(e *Expect) { e.BuilderID = workflow }, []error{ErrBuilder}, `built by "` + LocalBuilder + `"`,
		},
		"another repository": {
			st, func(e *Expect) { e.Repository = "https://github.com/someone/fork" }, []error{ErrRepository}, "externalParameters.repository",
		},
		"parameters and resolved source disagree": {
			edit(t, st, func(_, pred map[string]any) {
				deps := path(pred, "buildDefinition")["resolvedDependencies"].([]any)
				path(deps[0].(map[string]any), "digest")["gitCommit"] = otherCommit
			}), nil, []error{ErrCommit}, "resolvedDependencies hold git+" + repoURL + " at [" + otherCommit + "]",
		},
		"no resolved source": {
			edit(t, st, func(_, pred map[string]any) {
				bd := path(pred, "buildDefinition")
				bd["resolvedDependencies"] = bd["resolvedDependencies"].([]any)[1:]
			}), nil, []error{ErrRepository}, "resolvedDependencies hold source []",
		},
		"wrong predicate type: an SBOM attestation": {
			edit(t, st, func(s, _ map[string]any) { s["predicateType"] = "https://cyclonedx.org/bom" }), nil, []error{ErrNotProvenance}, "predicate type https://cyclonedx.org/bom",
		},
		"another build type": {
			edit(t, st, func(_, pred map[string]any) {
				path(pred, "buildDefinition")["buildType"] = "https://actions.github.io/buildtypes/workflow/v1"
			}), nil, []error{ErrBuildType}, "https://actions.github.io/buildtypes/workflow/v1",
		},
		"provenance without a builder": {
			edit(t, st, func(_, pred map[string]any) { delete(pred, "runDetails") }), nil, []error{ErrNotProvenance}, "runDetails required",
		},
		"an envelope of another payload type": {
			[]byte(`{"payloadType":"text/plain","payload":"aGk="}`), nil, []error{ErrNotProvenance}, `payload type "text/plain"`,
		},
		"not JSON": {
			[]byte("MEUCIQ..."), nil, []error{ErrNotProvenance}, "not JSON",
		},
		"every mismatch at once": {
			st, func(e *Expect) { e.SHA256, e.Commit, e.BuilderID = digestB[:63]+"0", otherCommit, workflow }, []error{ErrDigest, ErrCommit, ErrBuilder}, "",
		},
	} {
		t.Run(name, func(t *testing.T) {
			want := expect()
			if c.want != nil {
				c.want(&want)
			}
			err := Check(c.data, want)
			if err == nil {
				t.Fatal("Check passed")
			}
			for _, e := range c.is {
				if !errors.Is(err, e) {
					t.Errorf("error does not wrap %q: %v", e, err)
				}
			}
			for _, e := range []error{ErrNotProvenance, ErrBuildType, ErrDigest, ErrRepository, ErrCommit, ErrBuilder} {
				if errors.Is(err, e) && !slices.Contains(c.is, e) {
					t.Errorf("error also wraps %q: %v", e, err)
				}
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Errorf("error does not say %q: %v", c.says, err)
			}
		})
	}
}

func TestCheckNeedsEveryExpectation(t *testing.T) {
	err := Check(statement(t), Expect{SHA256: digestA})
	if err == nil || !strings.Contains(err.Error(), "no expected repository, commit, builder id given") {
		t.Fatalf("err = %v", err)
	}
}
