package quality

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
)

// VulnDBEnv names a local Go vulnerability database: file:///path or a directory in
// vuln.go.dev's layout (index/db.json, index/modules.json, ID/<id>.json), for machines that
// cannot reach vuln.go.dev. An http(s) URL names a mirror.
const VulnDBEnv = project.EnvPrefix + "VULNDB"

// DefaultVulnDB is the database govulncheck uses when VulnDBEnv is not set.
const DefaultVulnDB = "https://vuln.go.dev"

// VulnResult is govulncheck's verdict, shown by `mage vuln` and beside Trivy's by `mage scan`.
type VulnResult struct {
	Ran      bool
	NotRun   string    // why it did not run (offline with no database)
	DB       string    // the database used
	Findings []Finding // vulnerable symbols the code calls: these fail the check
	Imported []Finding // advisories against required modules whose vulnerable code is never called: reported, not failed

	// Aliases maps an advisory's OSV ID to its other IDs (CVE, GHSA): the names other scanners,
	// Trivy among them, report it by.
	Aliases map[string][]string
}

// Finding is one advisory govulncheck matched.
type Finding struct {
	ID      string // OSV ID, e.g. GO-2024-1234
	Module  string // the vulnerable module
	Version string // the version in use
	Fixed   string // the first fixed version; empty when there is none
	Package string // the vulnerable package, when it is imported; empty when only the module is required
	Symbol  string // package.Func or package.Type.Method the code calls; empty when not called
	Caller  string // our call site nearest the vulnerable symbol: file:line in the scanned module
}

// Failed says whether the check should fail the build.
func (r VulnResult) Failed() bool { return len(r.Findings) > 0 }

// Err is the failure to return when Failed, naming each advisory and the symbol called.
func (r VulnResult) Err() error {
	if !r.Failed() {
		return nil
	}
	var called []string
	for _, f := range r.Findings {
		called = append(called, f.ID+" ("+f.Symbol+")")
	}
	return fmt.Errorf("vulnerable code is called: %s; upgrade the modules listed above to their fixed versions", strings.Join(called, ", "))
}

// Vuln runs govulncheck (binary at bin) over packages of the module in dir (patterns, default
// ./...), against the database s.VulnDB (VulnDBEnv) names or vuln.go.dev. Only called vulnerable code fails the check;
// advisories whose code is never called are listed in Imported. Offline (s.Offline) with no
// database configured it does not run and says why (NotRun); a database that cannot be read
// or reached is an error, offline or not, since someone configured or expects it.
func Vuln(ctx context.Context, dir, bin string, s settings.Settings, patterns ...string) (VulnResult, error) {
	db, err := vulnDB(s.VulnDB)
	if err != nil {
		return VulnResult{}, err
	}
	if db == "" && s.Offline {
		return VulnResult{NotRun: "offline, no vulnerability database; set " + VulnDBEnv + "=file:///..."}, nil
	}
	if db == "" {
		db = DefaultVulnDB
	}
	if err := reachable(ctx, db); err != nil {
		return VulnResult{}, err
	}
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	args := append([]string{"-db", db, "-json"}, patterns...)
	// Only stderr explains a failure: stdout is the JSON stream.
	var stderr strings.Builder
	out, err := run.Cmd{Dir: dir, Stderr: &stderr}.Output(ctx, bin, args...)
	if err != nil {
		msg := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		msg = msg[max(0, len(msg)-30):]
		return VulnResult{}, fmt.Errorf("%s failed in %s (%w):\n%s", run.Quote("govulncheck", args...), dir, errors.Unwrap(err), strings.Join(msg, "\n"))
	}
	res, err := parseVuln(strings.NewReader(out))
	res.DB = db
	return res, err
}

// vulnDB turns the VulnDBEnv setting into a URL govulncheck takes: file:// for a directory.
func vulnDB(v string) (string, error) {
	if v == "" || strings.Contains(v, "://") {
		return v, nil
	}
	abs, err := filepath.Abs(v)
	if err != nil {
		return "", err
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), nil
}

// reachable checks the database before the scan, which loads every package first and then
// fails with a less helpful message.
func reachable(ctx context.Context, db string) error {
	u, err := url.Parse(db)
	if err != nil {
		return fmt.Errorf("%s=%s is not a URL or directory: %w", VulnDBEnv, db, err)
	}
	switch u.Scheme {
	case "file":
		// govulncheck recognises a local database by this file.
		if _, err := os.Stat(filepath.Join(filepath.FromSlash(u.Path), "index", "modules.json")); err != nil {
			return fmt.Errorf("no Go vulnerability database at %s (want index/db.json, index/modules.json and ID/<id>.json, as on vuln.go.dev): point %s at a copy of the database, or set SLIPWAY_OFFLINE=1 to report the check NOT RUN", db, VulnDBEnv)
		}
		return nil
	case "http", "https":
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, strings.TrimRight(db, "/")+"/index/db.json", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("index/db.json: %s", resp.Status)
			}
		}
		if err != nil {
			return fmt.Errorf("cannot reach the Go vulnerability database %s (%w): set %s=file:///path/to/a/copy, or SLIPWAY_OFFLINE=1 to report the check NOT RUN", db, err, VulnDBEnv)
		}
		return nil
	}
	return fmt.Errorf("%s=%s: want file:///path, a directory, or an http(s) URL", VulnDBEnv, db)
}

// govulncheck -json frames (golang.org/x/vuln/internal/govulncheck): a trace runs from the
// vulnerable symbol (first) to our entry point (last).
type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
	Position *struct {
		Filename string `json:"filename"`
		Line     int    `json:"line"`
	} `json:"position"`
}

// parseVuln reads govulncheck's -json stream. For each advisory govulncheck reports a
// module-level finding (the module is required), a package-level one if the vulnerable package
// is imported, and one per called vulnerable symbol; the most precise level decides.
func parseVuln(r io.Reader) (VulnResult, error) {
	res := VulnResult{Ran: true, Aliases: map[string][]string{}}
	var order []string
	best := map[string]Finding{} // advisory -> most precise non-call finding
	called := map[Finding]bool{}
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			OSV *struct {
				ID      string   `json:"id"`
				Aliases []string `json:"aliases"`
			} `json:"osv"`
			Finding *struct {
				OSV   string  `json:"osv"`
				Fixed string  `json:"fixed_version"`
				Trace []frame `json:"trace"`
			} `json:"finding"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return res, fmt.Errorf("reading govulncheck output: %w", err)
		}
		if msg.OSV != nil && len(msg.OSV.Aliases) > 0 {
			res.Aliases[msg.OSV.ID] = msg.OSV.Aliases
		}
		if msg.Finding == nil || len(msg.Finding.Trace) == 0 {
			continue
		}
		top := msg.Finding.Trace[0]
		f := Finding{ID: msg.Finding.OSV, Module: top.Module, Version: top.Version, Fixed: msg.Finding.Fixed, Package: top.Package}
		if _, ok := best[f.ID]; !ok {
			order = append(order, f.ID)
		}
		if top.Function == "" {
			if best[f.ID].Package == "" {
				best[f.ID] = f
			}
			continue
		}
		f.Symbol = top.Package + "." + top.Function
		if top.Receiver != "" {
			f.Symbol = top.Package + "." + strings.TrimPrefix(top.Receiver, "*") + "." + top.Function
		}
		f.Caller = caller(msg.Finding.Trace)
		if !called[f] {
			called[f] = true
			res.Findings = append(res.Findings, f)
		}
		best[f.ID] = f
	}
	for _, id := range order {
		if f := best[id]; f.Symbol == "" {
			res.Imported = append(res.Imported, f)
		}
	}
	return res, nil
}

// caller is our call site nearest the vulnerable symbol: the first frame after it that belongs
// to the scanned module (whose frames carry no module version).
func caller(trace []frame) string {
	for i := 1; i < len(trace); i++ {
		if fr := trace[i]; fr.Version == "" && fr.Position != nil {
			return fmt.Sprintf("%s:%d", fr.Position.Filename, fr.Position.Line)
		}
	}
	return ""
}

// Report prints the verdict: one line per finding and a closing line.
func (r VulnResult) Report(w io.Writer) {
	if !r.Ran {
		fmt.Fprintf(w, "vuln: NOT RUN (%s)\n", r.NotRun)
		return
	}
	for _, f := range r.Findings {
		fmt.Fprintf(w, "  CALLED      %s  %s  %s@%s (%s)", f.ID, f.Symbol, f.Module, f.Version, fix(f))
		if f.Caller != "" {
			fmt.Fprintf(w, ", called from %s", f.Caller)
		}
		fmt.Fprintln(w)
	}
	for _, f := range r.Imported {
		where := "module required, vulnerable package not imported"
		if f.Package != "" {
			where = "package " + f.Package + " imported, vulnerable code not called"
		}
		fmt.Fprintf(w, "  not called  %s  %s@%s (%s; %s)\n", f.ID, f.Module, f.Version, where, fix(f))
	}
	if r.Failed() {
		fmt.Fprintf(w, "vuln: FAIL: %d vulnerable symbol(s) called (database %s)\n", len(r.Findings), r.DB)
		return
	}
	fmt.Fprintf(w, "vuln: ok: no vulnerable symbol called, %d advisory(ies) affect code that is not called (database %s)\n", len(r.Imported), r.DB)
}

func fix(f Finding) string {
	if f.Fixed == "" {
		return "no fixed version yet"
	}
	return "fixed in " + f.Fixed
}
