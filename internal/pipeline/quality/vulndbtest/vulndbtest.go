// Package vulndbtest writes Go vulnerability databases for tests, in the layout govulncheck reads
// from a file:// URL (golang.org/x/vuln/internal/client): index/db.json, index/modules.json,
// ID/<id>.json. Point quality.VulnDBEnv at the directory Write returns.
package vulndbtest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Advisory marks symbols of one package of a module as vulnerable in every version before
// 99.0.0 (fixed in v99.0.0).
type Advisory struct {
	ID      string // GO-2099-...: made up, no real advisory has it
	Module  string
	Package string
	Symbols []string // Func or Type.Method
	Aliases []string // the names other databases give it: CVE-..., GHSA-...
}

// Write writes a database holding advisories into a new temporary directory and returns it.
func Write(t testing.TB, advisories ...Advisory) string {
	t.Helper()
	dir := t.TempDir()
	const modified = "2026-11-01T00:00:00Z"
	write := func(rel string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var modules []string
	index := map[string][]any{}
	for _, a := range advisories {
		if _, ok := index[a.Module]; !ok {
			modules = append(modules, a.Module)
		}
		index[a.Module] = append(index[a.Module], map[string]string{"id": a.ID, "modified": modified, "fixed": "99.0.0"})
		write("ID/"+a.ID+".json", map[string]any{
			"schema_version": "1.3.1", "id": a.ID, "modified": modified, "published": modified, "aliases": a.Aliases,
			"summary": "fixture advisory for tests", "details": "Not a real vulnerability.",
			"affected": []any{map[string]any{
				"package":            map[string]string{"name": a.Module, "ecosystem": "Go"},
				"ranges":             []any{map[string]any{"type": "SEMVER", "events": []any{map[string]string{"introduced": "0"}, map[string]string{"fixed": "99.0.0"}}}},
				"ecosystem_specific": map[string]any{"imports": []any{map[string]any{"path": a.Package, "symbols": a.Symbols}}},
			}},
		})
	}
	var mods []any
	for _, m := range modules {
		mods = append(mods, map[string]any{"path": m, "vulns": index[m]})
	}
	write("index/db.json", map[string]string{"modified": modified})
	write("index/modules.json", mods)
	return dir
}
