package scan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// IgnoreFile is the committed ignore list, in Trivy's own YAML format (Trivy applies it; the gate
// adds the rules Trivy does not enforce: every entry has a reason and an expiry, and an expired
// entry fails the gate instead of quietly re-surfacing its finding later).
//
//	vulnerabilities:
//	  - id: GHSA-xxxx-xxxx-xxxx
//	    statement: not reachable: we never parse untrusted go.mod files
//	    expired_at: 2027-03-01
const IgnoreFile = ".trivyignore.yaml"

// ignoreList mirrors Trivy's IgnoreConfig; unknown keys are an error so that a misspelt section
// or field ("expires_at") cannot silently keep an entry from expiring.
type ignoreList struct {
	Vulnerabilities   []ignoreEntry `yaml:"vulnerabilities"`
	Misconfigurations []ignoreEntry `yaml:"misconfigurations"`
	Secrets           []ignoreEntry `yaml:"secrets"`
	Licenses          []ignoreEntry `yaml:"licenses"`
}

type ignoreEntry struct {
	ID        string    `yaml:"id"`
	Paths     []string  `yaml:"paths"`
	PURLs     []string  `yaml:"purls"`
	Statement string    `yaml:"statement"`
	ExpiredAt time.Time `yaml:"expired_at"`
}

// IgnoreEntry is one accepted entry, shown with the findings it suppressed.
type IgnoreEntry struct {
	Kind, ID, Statement string
	ExpiredAt           time.Time
}

// CheckIgnoreList reads the ignore list at path (a missing file is an empty list) and returns its
// entries and one problem per entry that lacks an id, a statement or an expiry, or has expired.
// now is compared like Trivy does: an entry expires at the start of its expired_at date (UTC).
func CheckIgnoreList(path string, now time.Time) ([]IgnoreEntry, []string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	var l ignoreList
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&l); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("%s: %w (format: https://trivy.dev/docs/latest/configuration/filtering/#trivyignoreyaml)", path, err)
	}
	var entries []IgnoreEntry
	var problems []string
	for _, sec := range []struct {
		kind    string
		entries []ignoreEntry
	}{
		{"vulnerabilities", l.Vulnerabilities},
		{"misconfigurations", l.Misconfigurations},
		{"secrets", l.Secrets},
		{"licenses", l.Licenses},
	} {
		for i, e := range sec.entries {
			name := fmt.Sprintf("%s[%d]", sec.kind, i)
			if e.ID != "" {
				name += " " + e.ID
			}
			var missing []string
			if strings.TrimSpace(e.ID) == "" {
				missing = append(missing, "id")
			}
			if strings.TrimSpace(e.Statement) == "" {
				missing = append(missing, "statement (why it is safe to ignore)")
			}
			if e.ExpiredAt.IsZero() {
				missing = append(missing, "expired_at (YYYY-MM-DD, when to look again)")
			}
			switch {
			case len(missing) > 0:
				problems = append(problems, fmt.Sprintf("%s %s: missing %s", IgnoreFile, name, strings.Join(missing, ", ")))
			case e.ExpiredAt.Before(now):
				problems = append(problems, fmt.Sprintf("%s %s: expired on %s: fix the finding, or renew the entry with a new statement and expired_at",
					IgnoreFile, name, e.ExpiredAt.Format(time.DateOnly)))
			default:
				entries = append(entries, IgnoreEntry{Kind: sec.kind, ID: e.ID, Statement: e.Statement, ExpiredAt: e.ExpiredAt})
			}
		}
	}
	return entries, problems, nil
}
