package gobuild

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
)

// InputsFile is the file, inside each dist/<platform>/ directory, that records what the binary was built from.
// It is moved into place together with the binary, so its presence means the build finished.
// It is a readable manifest (one line per input) so `diff` explains a rebuild.
//
// Two kinds of lines:
//   - the inputs proper (toolchain, command line, environment, go.mod/go.sum, and every file the
//     compiler reads or embeds, as `go list -deps` selects them for the platform's GOOS/GOARCH),
//     which decide whether the binary must be rebuilt;
//   - "watch" lines, a digest of every file in each directory `go list` looked at (build
//     constraints may select an ignored file next time), which decide whether `go list` has to
//     run again at all. Unchanged watch lines let a no-op build skip `go list` (0.4 s a platform).
const InputsFile = ".inputs"

// toolEnv are settings outside Env() that still change the toolchain's output.
var toolEnv = []string{"GOEXPERIMENT", "GOAMD64", "GOARM64", "GO386", "GOFIPS140", "GOROOT", "GOWORK"}

// target is one build command whose inputs are hashed.
type target struct {
	root      string // module root; manifest paths are relative to it
	goVersion string // `go version` output
	args, env []string
}

// header is the part of the manifest that needs no file system: toolchain and command.
func (t target) header() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "go-version %s\n", t.goVersion)
	fmt.Fprintf(&b, "args %q\n", t.args)
	fmt.Fprintf(&b, "env %q\n", slices.DeleteFunc(slices.Clone(t.env), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.Contains(fetchKeys, k)
	}))
	for _, k := range toolEnv {
		fmt.Fprintf(&b, "toolenv %s=%q\n", k, os.Getenv(k))
	}
	return b.Bytes()
}

// goPackage is the part of `go list -json` the inputs hash needs.
type goPackage struct {
	ImportPath string
	Dir        string
	Module     *struct {
		Main    bool
		Replace *struct{ Version string }
	}
	// Every kind of file the go command compiles or embeds.
	GoFiles, CgoFiles, CFiles, CXXFiles, MFiles, HFiles, FFiles, SFiles []string
	SwigFiles, SwigCXXFiles, SysoFiles, EmbedFiles                      []string
	EmbedPatterns                                                       []string
}

// listFields asks `go list` for goPackage's fields only: it then skips work such as staleness
// checks, which halves its time (about 0.25 s to 0.13 s a platform, paid on every build that
// is not a no-op).
const listFields = "ImportPath,Dir,Module,GoFiles,CgoFiles,CFiles,CXXFiles,MFiles,HFiles,FFiles,SFiles," +
	"SwigFiles,SwigCXXFiles,SysoFiles,EmbedFiles,EmbedPatterns"

// local reports whether p's sources can change without go.sum changing: the main module, or a
// module replaced by a directory (a replacement without a version).
func (p goPackage) local() bool {
	return p.Module != nil && (p.Module.Main || p.Module.Replace != nil && p.Module.Replace.Version == "")
}

// manifest lists the inputs of one build (see InputsFile): it runs `go list` with the target's
// environment, hashes the files it selects and digests the directories it read. Dependencies
// from the module cache are pinned by go.sum; the standard library by `go version`. Paths are
// relative to the module root, so a checkout elsewhere gives the same manifest.
func manifest(ctx context.Context, t target) ([]byte, error) {
	b := bytes.NewBuffer(t.header())
	for _, f := range []string{"go.mod", "go.sum"} {
		if err := fileLine(b, t.root, f); err != nil {
			return nil, err
		}
	}
	pkgs, err := listDeps(ctx, t.root, t.args[len(t.args)-1], t.env)
	if err != nil {
		return nil, err
	}
	var watch []string
	for _, p := range pkgs {
		rel, err := filepath.Rel(t.root, p.Dir)
		if err != nil {
			return nil, err
		}
		rel = filepath.ToSlash(rel)
		fmt.Fprintf(b, "package %s\n", p.ImportPath)
		var files []string
		for _, list := range [][]string{p.GoFiles, p.CgoFiles, p.CFiles, p.CXXFiles, p.MFiles, p.HFiles,
			p.FFiles, p.SFiles, p.SwigFiles, p.SwigCXXFiles, p.SysoFiles, p.EmbedFiles} {
			files = append(files, list...)
		}
		slices.Sort(files)
		for _, f := range slices.Compact(files) {
			if err := fileLine(b, t.root, path.Join(rel, f)); err != nil {
				return nil, err
			}
		}
		watch = append(watch, rel)
		embedded, err := embedDirs(t.root, rel, p.EmbedPatterns)
		if err != nil {
			return nil, err
		}
		watch = append(watch, embedded...)
	}
	slices.Sort(watch)
	for _, dir := range slices.Compact(watch) {
		if err := watchLine(b, t.root, dir); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// embedDirs are the directories a //go:embed pattern of the package at rel could match files in:
// the tree under the pattern's literal prefix (a new file there may match the pattern).
func embedDirs(root, rel string, patterns []string) ([]string, error) {
	var dirs []string
	for _, pat := range patterns {
		prefix := rel
		for _, elem := range strings.Split(strings.TrimPrefix(pat, "all:"), "/") {
			if strings.ContainsAny(elem, `*?[\`) {
				break
			}
			prefix = path.Join(prefix, elem)
		}
		if st, err := os.Stat(filepath.Join(root, prefix)); err != nil || !st.IsDir() {
			prefix = path.Dir(prefix) // the pattern names a file (or nothing yet): watch its directory
		}
		err := filepath.WalkDir(filepath.Join(root, prefix), func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return err
			}
			r, err := filepath.Rel(root, p)
			dirs = append(dirs, filepath.ToSlash(r))
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return dirs, nil
}

// replay recomputes a recorded manifest without `go list`: the header from t, every "file" and
// "watch" line from the file system, "package" lines as recorded. When the result equals the
// record, nothing `go list` reads has changed, so neither has its answer: the build is up to date.
// Any difference (a missing file included) only means the full manifest has to be computed.
func replay(recorded []byte, t target) []byte {
	b := bytes.NewBuffer(t.header())
	sc := bufio.NewScanner(bytes.NewReader(recorded))
	for sc.Scan() {
		kind, rest, _ := strings.Cut(sc.Text(), " ")
		name, _, _ := strings.Cut(rest, " ")
		var err error
		switch kind {
		case "go-version", "args", "env", "toolenv": // replaced by t.header()
		case "package":
			fmt.Fprintf(b, "package %s\n", rest)
		case "file":
			err = fileLine(b, t.root, name)
		case "watch":
			err = watchLine(b, t.root, name)
		default:
			err = fmt.Errorf("unknown line %q", sc.Text())
		}
		if err != nil {
			return nil
		}
	}
	return b.Bytes()
}

// decisive drops the watch lines: what is left decides whether the binary must be rebuilt.
func decisive(m []byte) []byte {
	var b bytes.Buffer
	for line := range bytes.Lines(m) {
		if !bytes.HasPrefix(line, []byte("watch ")) {
			b.Write(line)
		}
	}
	return b.Bytes()
}

// listDeps returns the packages that main needs whose sources are local (see goPackage.local),
// sorted by import path. -e: a package that does not compile is still listed, so the compiler
// reports the error.
func listDeps(ctx context.Context, root, main string, env []string) ([]goPackage, error) {
	out, err := run.Cmd{Dir: root, Env: env}.Output(ctx, "go", "list", "-e", "-deps", "-json="+listFields, main)
	if err != nil {
		return nil, err
	}
	var pkgs []goPackage
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("reading `go list -json` output: %w", err)
		}
		if p.local() {
			pkgs = append(pkgs, p)
		}
	}
	slices.SortFunc(pkgs, func(a, b goPackage) int { return strings.Compare(a.ImportPath, b.ImportPath) })
	return pkgs, nil
}

// fileLine appends "file <path> <sha256>" for a file under root, or "file <path> absent"
// (a module without dependencies has no go.sum; creating one is a change).
func fileLine(b *bytes.Buffer, root, rel string) error {
	sum, err := fileSHA256(filepath.Join(root, rel))
	if errors.Is(err, fs.ErrNotExist) {
		sum, err = "absent", nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(b, "file %s %s\n", rel, sum)
	return nil
}

// watchLine appends "watch <dir> <sha256>", a digest of the directory's entries: the name and
// content of each file, the name of each subdirectory, the target of each symlink.
func watchLine(b *bytes.Buffer, root, rel string) error {
	dir := filepath.Join(root, rel)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	h := sha256.New()
	for _, e := range entries {
		switch {
		case e.Type().IsRegular():
			sum, err := fileSHA256(filepath.Join(dir, e.Name()))
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "f %q %s\n", e.Name(), sum)
		case e.IsDir():
			fmt.Fprintf(h, "d %q\n", e.Name())
		default:
			target, _ := os.Readlink(filepath.Join(dir, e.Name()))
			fmt.Fprintf(h, "o %q %v %q\n", e.Name(), e.Type(), target)
		}
	}
	fmt.Fprintf(b, "watch %s %s\n", rel, hex.EncodeToString(h.Sum(nil)))
	return nil
}
