package scan

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Severities in Trivy's order, most severe first.
var Severities = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}

// Finding is one result of a Trivy scanner, reduced to what the terminal and the verdict show.
type Finding struct {
	Scanner  string // vuln, secret, misconfig, license
	ID       string // advisory, rule, check or license ID
	Severity string
	What     string // the module and version, file and line, or license's package
	Title    string
}

func (f Finding) String() string {
	s := fmt.Sprintf("%s %s %s %s", f.Severity, f.Scanner, f.ID, f.What)
	if f.Title != "" {
		s += ": " + f.Title
	}
	return s
}

// trivyReport is the part of Trivy's JSON report (`--format json`) the gate reads.
type trivyReport struct {
	Metadata struct {
		ImageConfig struct{ OS, Architecture, Variant string }
	}
	Results []struct {
		Target          string
		Class           string
		Vulnerabilities []struct {
			VulnerabilityID, PkgName, InstalledVersion, FixedVersion, Severity, Title string
		}
		Misconfigurations []struct {
			ID, Title, Severity, Status string
			CauseMetadata               struct{ StartLine int }
		}
		Secrets []struct {
			RuleID, Severity, Title string
			StartLine               int
		}
		Licenses []struct {
			Name, Severity, PkgName, FilePath, Category string
		}
		// Findings the ignore list or a VEX document suppressed (--show-suppressed).
		ModifiedFindings []struct {
			Type, Status, Statement, Source string
			Finding                         struct{ VulnerabilityID, ID, RuleID, Name string }
		} `json:"ExperimentalModifiedFindings"`
	}
}

// parsed is one Trivy report: every finding, the suppressed ones, and the files the config
// scanner recognized.
type parsed struct {
	findings   []Finding
	suppressed []Finding
	configs    []string
	platform   string // an image's, e.g. linux/arm64
}

func parseReport(path string) (parsed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return parsed{}, err
	}
	var r trivyReport
	if err := json.Unmarshal(data, &r); err != nil {
		return parsed{}, fmt.Errorf("reading Trivy's report %s: %w", path, err)
	}
	var p parsed
	if ic := r.Metadata.ImageConfig; ic.OS != "" {
		p.platform = strings.TrimSuffix(ic.OS+"/"+ic.Architecture+"/"+ic.Variant, "/")
	}
	for _, res := range r.Results {
		if res.Class == "config" {
			p.configs = append(p.configs, res.Target)
		}
		for _, v := range res.Vulnerabilities {
			what := fmt.Sprintf("%s %s (%s)", v.PkgName, v.InstalledVersion, res.Target)
			if v.FixedVersion != "" {
				what += ", fixed in " + v.FixedVersion
			}
			p.findings = append(p.findings, Finding{"vuln", v.VulnerabilityID, v.Severity, what, v.Title})
		}
		for _, m := range res.Misconfigurations {
			if m.Status != "FAIL" {
				continue
			}
			what := res.Target
			if m.CauseMetadata.StartLine > 0 {
				what = fmt.Sprintf("%s:%d", what, m.CauseMetadata.StartLine)
			}
			p.findings = append(p.findings, Finding{"misconfig", m.ID, m.Severity, what, m.Title})
		}
		for _, s := range res.Secrets {
			p.findings = append(p.findings, Finding{"secret", s.RuleID, s.Severity, fmt.Sprintf("%s:%d", res.Target, s.StartLine), s.Title})
		}
		for _, l := range res.Licenses {
			what := l.PkgName
			if what == "" {
				what = l.FilePath
			}
			p.findings = append(p.findings, Finding{"license", l.Name, l.Severity, fmt.Sprintf("%s (%s)", what, res.Target), l.Category})
		}
		for _, m := range res.ModifiedFindings {
			// "ignored": the ignore list; "not_affected" (or "fixed"): a VEX statement.
			if m.Status != "ignored" && m.Status != "not_affected" && m.Status != "fixed" {
				continue
			}
			id := m.Finding.VulnerabilityID + m.Finding.ID + m.Finding.RuleID + m.Finding.Name
			why := m.Statement
			if m.Status != "ignored" {
				why = fmt.Sprintf("%s per %s (%s)", m.Status, m.Source, m.Statement) // a VEX justification
			}
			p.suppressed = append(p.suppressed, Finding{Scanner: scannerOfFinding(m.Type), ID: id, What: res.Target, Title: why})
		}
	}
	return p, nil
}

// scannerOfFinding maps Trivy's finding types to scanner names.
func scannerOfFinding(t string) string {
	switch t {
	case "vulnerability":
		return "vuln"
	case "misconfiguration":
		return "misconfig"
	}
	return t
}

// ParseSeverities reads SCAN_SEVERITY ("HIGH,CRITICAL"): the severities that fail the gate.
func ParseSeverities(v string) ([]string, error) {
	if strings.TrimSpace(v) == "" {
		v = DefaultSeverity
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		s = strings.ToUpper(strings.TrimSpace(s))
		if s == "" {
			continue
		}
		if !slices.Contains(Severities, s) {
			return nil, fmt.Errorf("SCAN_SEVERITY: unknown severity %q; use a comma-separated list of %s", s, strings.Join(Severities, ", "))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("SCAN_SEVERITY=%q names no severity; use a comma-separated list of %s", v, strings.Join(Severities, ", "))
	}
	return out, nil
}
