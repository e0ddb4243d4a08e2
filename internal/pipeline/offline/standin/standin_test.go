package standin

import (
	"archive/tar"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/offline/debian"
)

type entry struct {
	hdr  tar.Header
	data string
}

func readTar(t *testing.T, p string) []entry {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var es []entry
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return es
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		es = append(es, entry{*h, string(data)})
	}
}

func writeLayer(t *testing.T, file string, fill func(l *layer) error) string {
	t.Helper()
	l, err := newLayer(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := fill(l); err != nil {
		t.Fatal(err)
	}
	sum, err := l.close()
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func TestLayerIsDeterministicWithParentsAndNormalizedModes(t *testing.T) {
	src := t.TempDir()
	for name, mode := range map[string]fs.FileMode{"b/tool": 0o500, "a.txt": 0o400, "b/c/data": 0o600} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("a.txt", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(src, "skipme"), 0o755); err != nil {
		t.Fatal(err)
	}
	fill := func(l *layer) error { return l.tree("usr/lib/x", src, "skipme") }
	dir := t.TempDir()
	one := writeLayer(t, filepath.Join(dir, "1.tar"), fill)
	// Different times on disk must not change the bytes.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(src, "a.txt"), later, later); err != nil {
		t.Fatal(err)
	}
	if two := writeLayer(t, filepath.Join(dir, "2.tar"), fill); one != two {
		t.Errorf("same contents, different layers: %s %s", one, two)
	}

	var names []string
	modes := map[string]int64{}
	for _, e := range readTar(t, filepath.Join(dir, "1.tar")) {
		names = append(names, e.hdr.Name)
		modes[e.hdr.Name] = e.hdr.Mode
		if !e.hdr.ModTime.Equal(epoch) || e.hdr.Uid != 0 || e.hdr.Gid != 0 {
			t.Errorf("%s: time %v owner %d:%d, want the epoch and root", e.hdr.Name, e.hdr.ModTime, e.hdr.Uid, e.hdr.Gid)
		}
		if e.hdr.Name == "usr/lib/x/link" && (e.hdr.Typeflag != tar.TypeSymlink || e.hdr.Linkname != "a.txt") {
			t.Errorf("link: %+v", e.hdr)
		}
	}
	want := "usr/ usr/lib/ usr/lib/x/ usr/lib/x/a.txt usr/lib/x/b/ usr/lib/x/b/c/ usr/lib/x/b/c/data usr/lib/x/b/tool usr/lib/x/link"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("entries:\n got %s\nwant %s", got, want)
	}
	for name, mode := range map[string]int64{"usr/lib/x/a.txt": 0o644, "usr/lib/x/b/tool": 0o755, "usr/lib/x/b/": 0o755} {
		if modes[name] != mode {
			t.Errorf("%s: mode %o, want %o", name, modes[name], mode)
		}
	}
}

func TestBaseFiles(t *testing.T) {
	if _, err := os.Stat(caBundle); err != nil {
		t.Skipf("no CA bundle on this machine (%v); `mage setup` installs ca-certificates and the e2e tests build the stand-ins", err)
	}
	p := filepath.Join(t.TempDir(), "base.tar")
	writeLayer(t, p, baseFiles)
	got := map[string]entry{}
	for _, e := range readTar(t, p) {
		got[strings.TrimSuffix(e.hdr.Name, "/")] = e
	}
	if !strings.Contains(got["etc/passwd"].data, "nonroot:x:65532:65532:") || !strings.Contains(got["etc/group"].data, "nonroot:x:65532:") {
		t.Errorf("no nonroot user 65532:\n%s%s", got["etc/passwd"].data, got["etc/group"].data)
	}
	if tmp := got["tmp"].hdr; tmp.Mode != 0o1777 || tmp.Typeflag != tar.TypeDir {
		t.Errorf("/tmp: mode %o, want 1777", tmp.Mode)
	}
	if h := got["home/nonroot"].hdr; h.Uid != 65532 || h.Gid != 65532 || h.Mode != 0o700 {
		t.Errorf("/home/nonroot: %d:%d %o", h.Uid, h.Gid, h.Mode)
	}
	if !strings.HasPrefix(got["etc/ssl/certs/ca-certificates.crt"].data, "-----BEGIN CERTIFICATE-----") {
		t.Error("no CA bundle")
	}
}

// The key, and so a rebuild, follows every input: a new busybox, a new Go, another config.
func TestKeyFollowsInputs(t *testing.T) {
	in := inputs{goVersion: "go1.26.8", tzdata: "2025b", caSum: "ab", busybox: map[string]debian.Package{
		"amd64": {Version: "1:1.35.0-4"}, "arm64": {Version: "1:1.35.0-4"},
	}}
	b := &builder{in: in}
	s := specs(in.goVersion)[0]
	base := b.key(s)
	if b.key(s) != base {
		t.Fatal("the key is not stable")
	}
	newer := *b
	newer.in.busybox = map[string]debian.Package{"amd64": {Version: "1:1.36"}, "arm64": {Version: "1:1.36"}}
	newGo := *b
	newGo.in.goVersion = "go1.26.9"
	other := s
	other.user = "0"
	for name, k := range map[string]string{"busybox": newer.key(s), "go": newGo.key(s), "config": b.key(other), "image": b.key(specs(in.goVersion)[2])} {
		if k == base {
			t.Errorf("a different %s gives the same key", name)
		}
	}
}

// Every upstream image has a stand-in, and each stand-in is marked as one.
func TestSpecsCoverUpstream(t *testing.T) {
	have := map[image.Ref]bool{}
	for _, s := range specs("go1.26.8") {
		have[s.upstream] = true
		if len(s.layers) == 0 || s.workdir == "" {
			t.Errorf("%s: no layers or workdir", s.upstream)
		}
	}
	for _, r := range image.Upstream {
		if !have[r] {
			t.Errorf("no stand-in for %s", r)
		}
	}
	var distroless spec
	for _, s := range specs("go1.26.8") {
		if s.upstream == image.Distroless {
			distroless = s
		}
	}
	if distroless.user != "65532" || slices.Contains(distroless.layers, "busybox") {
		t.Errorf("the distroless stand-in must run as 65532 and have no shell: %+v", distroless)
	}
}
