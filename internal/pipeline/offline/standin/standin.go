// Package standin builds offline stand-ins for the upstream images of internal/pipeline/image and
// pushes them, for linux/amd64 and linux/arm64, into the project's loopback registry. Nothing is
// pulled and nothing needs root or changes the machine: the contents come from this machine's
// Go toolchain (the other architecture's from the Go module proxy, golang.org/toolchain; the
// time zone database from Go's own lib/time/zoneinfo.zip), its CA bundle, and Debian's
// busybox-static, fetched with apt into .slipway/ (package debian), never installed. The
// images are assembled with crane. Each is built only when a target needs it: a release needs
// the distroless one alone, which needs no Debian package at all.
//
//	golang     /usr/local/go, busybox as /bin/sh (Dockerfile RUN steps need a shell), CA bundle
//	alpine     busybox and its applets, CA bundle, /etc/passwd, /tmp
//	distroless /etc/passwd with nonroot (65532), CA bundle, tzdata, /tmp (1777); no shell
//
// Each carries image.StandInLabel, which images built FROM it inherit, so a release can refuse
// to ship one by accident (image.CheckShippable).
package standin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/oci"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools"
	"github.com/slipway-dev/slipway/internal/pipeline/offline/debian"
	"github.com/slipway-dev/slipway/internal/pipeline/offline/registry"
)

// Arches are the architectures every stand-in is built for.
var Arches = []string{"amd64", "arm64"}

// KeyLabel holds a hash of everything a stand-in is made of: setup rebuilds only when it changes.
const KeyLabel = image.StandInLabel + ".key"

// format changes when this package changes what it puts into a stand-in.
const format = "2"

// Options says where to build and push.
type Options struct {
	Crane    string      // the pinned crane
	Registry string      // the project's registry, host:port on loopback
	Cache    string      // work directory: fetched packages, layer tarballs (.slipway/standin)
	Out      io.Writer   // progress
	Only     []image.Ref // the stand-ins to build; none means all
	Refresh  bool        // ask Debian for newer packages than the ones fetched before
}

// Image is one stand-in in the registry.
type Image struct {
	Upstream image.Ref
	Ref      string // tagged, in the registry
	Digest   string // of its index
	UpToDate bool   // already there with the same contents: nothing was pushed
}

// spec is one stand-in: its layers and its config.
type spec struct {
	upstream image.Ref
	layers   []string // layer kinds, bottom first: base, tzdata, busybox, goroot
	env      []string
	user     string
	workdir  string
	cmd      string
}

const stdPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func specs(goVersion string) []spec {
	return []spec{
		{upstream: image.Go, layers: []string{"base", "busybox", "goroot"}, workdir: "/go", cmd: "/bin/sh",
			env: []string{"PATH=/go/bin:/usr/local/go/bin:" + strings.TrimPrefix(stdPath, "PATH="), "GOPATH=/go",
				"GOTOOLCHAIN=local", "GOLANG_VERSION=" + strings.TrimPrefix(goVersion, "go")}},
		{upstream: image.Alpine, layers: []string{"base", "busybox"}, workdir: "/", cmd: "/bin/sh", env: []string{stdPath}},
		{upstream: image.Distroless, layers: []string{"base", "tzdata"}, user: "65532", workdir: "/home/nonroot",
			env: []string{stdPath, "SSL_CERT_FILE=" + caBundle}},
	}
}

const caBundle = "/etc/ssl/certs/ca-certificates.crt"

// Build makes sure every stand-in is in the registry and current, building what is missing or
// out of date.
func Build(ctx context.Context, o Options) ([]Image, error) {
	if err := os.MkdirAll(o.Cache, 0o755); err != nil {
		return nil, err
	}
	var todo []spec
	for _, s := range specs(runtime.Version()) {
		if len(o.Only) == 0 || slices.Contains(o.Only, s.upstream) {
			todo = append(todo, s)
		}
	}
	in, err := gather(ctx, o, todo)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(o.Cache, ".layers-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work) // layer tarballs are hundreds of MB; the registry keeps them
	b := &builder{o: o, in: in, work: work, tars: map[string]string{}}
	var imgs []Image
	for _, s := range specs(in.goVersion) {
		if !slices.ContainsFunc(todo, func(t spec) bool { return t.upstream == s.upstream }) {
			continue
		}
		img, err := b.image(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("stand-in for %s: %w", s.upstream, err)
		}
		imgs = append(imgs, img)
	}
	return imgs, nil
}

// inputs is everything the stand-ins are made of, found on this machine or fetched.
type inputs struct {
	goVersion string
	goroot    map[string]string // arch -> a GOROOT for that architecture
	busybox   map[string]debian.Package
	applets   []string // busybox applet paths (usr/bin/[, bin/sh, ...)
	zoneinfo  string   // Go's zoneinfo.zip
	tzdata    string   // its sha256
	caSum     string
}

// needs reports whether any of specs has a layer of kind.
func needs(specs []spec, kind string) bool {
	return slices.ContainsFunc(specs, func(s spec) bool { return slices.Contains(s.layers, kind) })
}

func gather(ctx context.Context, o Options, todo []spec) (inputs, error) {
	in := inputs{goroot: map[string]string{}, busybox: map[string]debian.Package{}}
	goenv, err := run.Cmd{Env: []string{"GOTOOLCHAIN=local"}}.Output(ctx, "go", "env", "GOVERSION", "GOROOT")
	if err != nil {
		return in, err
	}
	f := strings.Fields(goenv)
	if len(f) != 2 {
		return in, fmt.Errorf("go env GOVERSION GOROOT printed %q", goenv)
	}
	in.goVersion = f[0]
	if needs(todo, "goroot") {
		if want := "go" + image.Go.Tag; in.goVersion != want {
			fmt.Fprintf(o.Out, "note: the Go builder stand-in for golang:%s carries this machine's %s\n", image.Go.Tag, in.goVersion)
		}
		for _, arch := range Arches {
			if arch == runtime.GOARCH {
				in.goroot[arch] = f[1]
			} else if in.goroot[arch], err = toolchain(ctx, o, in.goVersion, arch); err != nil {
				return in, err
			}
		}
	}
	if needs(todo, "busybox") {
		bbs, err := debian.Fetch(ctx, o.Out, filepath.Join(o.Cache, "debs"), "busybox-static", o.Refresh, Arches...)
		if err != nil {
			return in, err
		}
		for _, p := range bbs {
			in.busybox[p.Arch] = p
		}
		host, ok := in.busybox[runtime.GOARCH]
		if !ok {
			return in, fmt.Errorf("stand-ins are built on %v machines; this one is %s", Arches, runtime.GOARCH)
		}
		// Both architectures come from one package version, so they have the same applets.
		list, err := run.Output(ctx, filepath.Join(host.Root, "bin", "busybox"), "--list-full")
		if err != nil {
			return in, err
		}
		in.applets = strings.Fields(list)
	}
	in.zoneinfo = filepath.Join(f[1], "lib", "time", "zoneinfo.zip")
	zi, err := os.ReadFile(in.zoneinfo)
	if err != nil {
		return in, fmt.Errorf("the time zone database for the stand-ins: %w", err)
	}
	in.tzdata = fmt.Sprintf("%x", sha256.Sum256(zi))
	ca, err := os.ReadFile(caBundle)
	if err != nil {
		return in, fmt.Errorf("the CA bundle for the stand-ins: %w (on Debian the ca-certificates package writes it)", err)
	}
	in.caSum = fmt.Sprintf("%x", sha256.Sum256(ca))
	return in, nil
}

// toolchain is a GOROOT of goVersion for linux/arch: the Go project publishes every release as a
// module, golang.org/toolchain, on the module proxy (the go command's own GOTOOLCHAIN downloads).
func toolchain(ctx context.Context, o Options, goVersion, arch string) (string, error) {
	mod := "golang.org/toolchain@v0.0.1-" + goVersion + ".linux-" + arch
	fmt.Fprintf(o.Out, "fetching the %s Go toolchain: go mod download %s\n", arch, mod)
	// Outside any module, so the project's go.mod plays no part.
	out, err := run.Cmd{Dir: os.TempDir(), Env: []string{"GOTOOLCHAIN=local", "GOFLAGS="}}.
		Output(ctx, "go", "mod", "download", "-json", mod)
	if err != nil {
		return "", fmt.Errorf("fetching the Go toolchain for linux/%s (the builder stand-in needs it): %w", arch, err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal([]byte(out), &m); err != nil || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s: no directory in %q", mod, out)
	}
	return m.Dir, nil
}

type builder struct {
	o    Options
	in   inputs
	work string
	tars map[string]string // kind/arch -> tarball, built once per run
}

// key hashes what the stand-in for s on arch is made of.
func (b *builder) key(s spec) string {
	h := sha256.New()
	fmt.Fprintln(h, format, s.upstream, s.layers, s.env, s.user, s.workdir, s.cmd, b.in.caSum, b.in.tzdata, b.in.goVersion)
	for _, arch := range Arches {
		fmt.Fprintln(h, arch, b.in.busybox[arch].Version)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func (b *builder) image(ctx context.Context, s spec) (Image, error) {
	repo := b.o.Registry + "/" + image.StandInPrefix + "/" + s.upstream.MirrorPath()
	ref := repo + ":" + s.upstream.Tag
	img := Image{Upstream: s.upstream, Ref: ref}
	key := b.key(s)
	if b.current(ctx, ref, key) {
		d, err := run.Output(ctx, b.o.Crane, "digest", ref)
		if err == nil {
			img.Digest, img.UpToDate = d, true
			fmt.Fprintf(b.o.Out, "stand-in %-62s up to date\n", ref)
			return img, nil
		}
	}
	var manifests []string
	for _, arch := range Arches {
		var tars []string
		for _, kind := range s.layers {
			t, err := b.tarball(kind, arch)
			if err != nil {
				return img, err
			}
			tars = append(tars, "-f", t)
		}
		archRef := ref + "-" + arch
		if err := run.Run(ctx, b.o.Crane, append([]string{"append", "--oci-empty-base", "-t", archRef}, tars...)...); err != nil {
			return img, err
		}
		args := []string{"mutate", archRef, "-t", archRef, "--set-platform", "linux/" + arch,
			"-l", image.StandInLabel + "=" + s.upstream.String(), "-l", KeyLabel + "=" + key, "-w", s.workdir}
		for _, e := range s.env {
			args = append(args, "-e", e)
		}
		if s.user != "" {
			args = append(args, "-u", s.user)
		}
		if s.cmd != "" {
			args = append(args, "--cmd", s.cmd)
		}
		if err := run.Run(ctx, b.o.Crane, args...); err != nil {
			return img, err
		}
		d, err := run.Output(ctx, b.o.Crane, "digest", archRef)
		if err != nil {
			return img, err
		}
		manifests = append(manifests, "-m", repo+"@"+d)
	}
	if err := run.Run(ctx, b.o.Crane, append([]string{"index", "append", "-t", ref}, manifests...)...); err != nil {
		return img, err
	}
	d, err := run.Output(ctx, b.o.Crane, "digest", ref)
	if err != nil {
		return img, err
	}
	img.Digest = d
	fmt.Fprintf(b.o.Out, "stand-in %-62s pushed %s\n", ref, d)
	return img, nil
}

// current reports whether ref exists with the same key on every architecture.
func (b *builder) current(ctx context.Context, ref, key string) bool {
	for _, arch := range Arches {
		labels, err := image.Labels(ctx, b.o.Crane, ref, "linux/"+arch)
		if err != nil || labels[KeyLabel] != key {
			return false
		}
	}
	return true
}

// tarball builds the layer of kind for arch (once per run).
func (b *builder) tarball(kind, arch string) (string, error) {
	id := kind + "-" + arch
	if t, ok := b.tars[id]; ok {
		return t, nil
	}
	t := filepath.Join(b.work, id+".tar")
	l, err := newLayer(t)
	if err != nil {
		return "", err
	}
	switch kind {
	case "base":
		err = baseFiles(l)
	case "tzdata":
		err = l.zip("usr/share/zoneinfo", b.in.zoneinfo)
	case "busybox":
		err = b.busybox(l, arch)
	case "goroot":
		err = b.goroot(l, arch)
	default:
		err = fmt.Errorf("no layer kind %q", kind)
	}
	if _, cerr := l.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("layer %s: %w", id, err)
	}
	b.tars[id] = t
	return t, nil
}

// baseFiles are what every stand-in has: users and groups (distroless's: root, nobody, nonroot
// 65532), the CA bundle, a world-writable sticky /tmp and the home directories.
func baseFiles(l *layer) error {
	ca, err := os.ReadFile(caBundle)
	if err != nil {
		return err
	}
	steps := []error{
		l.dir("etc", 0o755, 0, 0),
		l.file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/sbin/nologin\n"+
			"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"+
			"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")),
		l.file("etc/group", 0o644, []byte("root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n")),
		l.file(strings.TrimPrefix(caBundle, "/"), 0o644, ca),
		l.dir("home", 0o755, 0, 0),
		l.dir("home/nonroot", 0o700, 65532, 65532),
		l.dir("root", 0o700, 0, 0),
		l.dir("tmp", 0o777|fs.ModeSticky, 0, 0),
	}
	for _, err := range steps {
		if err != nil {
			return err
		}
	}
	return nil
}

// busybox installs Debian's static busybox with a symlink per applet, /bin/sh among them.
func (b *builder) busybox(l *layer, arch string) error {
	if err := l.copyFile("bin/busybox", filepath.Join(b.in.busybox[arch].Root, "bin", "busybox")); err != nil {
		return err
	}
	for _, a := range b.in.applets {
		if a == "bin/busybox" {
			continue
		}
		if err := l.symlink(strings.TrimPrefix(a, "/"), "/bin/busybox"); err != nil {
			return err
		}
	}
	return nil
}

// goroot installs the toolchain as the official image does: /usr/local/go, GOPATH /go (1777).
// The release's api/doc/misc/test directories are left out, as golang.org/toolchain does.
func (b *builder) goroot(l *layer, arch string) error {
	if err := l.tree("usr/local/go", b.in.goroot[arch], "api", "doc", "misc", "test"); err != nil {
		return err
	}
	for _, d := range []string{"go", "go/bin", "go/src"} {
		if err := l.dir(d, 0o777|fs.ModeSticky, 0, 0); err != nil {
			return err
		}
	}
	return nil
}

// Ensure builds the stand-ins of refs on first use: offline (SLIPWAY_OFFLINE=1 in c), when any is
// missing from the project's registry, so `mage release` or `mage docker:build` works on a
// fresh clone with no separate `mage setup`. Stand-ins that are there are used as they are;
// checking that they are current is setup's slower job.
func Ensure(ctx context.Context, c *stage.Context, refs ...image.Ref) error {
	if !c.Settings.Offline {
		return nil
	}
	root, out := c.Root, c.Out
	addr, crane, err := projectRegistry(ctx, root)
	if err != nil {
		return err
	}
	missing := Missing(ctx, crane, addr, refs)
	if len(missing) == 0 {
		return nil
	}
	fmt.Fprintf(out, "offline: building the stand-ins for %s (one-off; `mage setup` refreshes them)\n", joinRefs(missing))
	return build(ctx, root, out, Options{Only: missing})
}

// Stage is Ensure as a run's stage, skipped online: the one-off build of the stand-ins of refs.
func Stage(refs ...image.Ref) stage.Stage {
	return stage.Stage{Name: stage.StandInBase, OneOff: true,
		Skip: func(c *stage.Context) (string, bool) { return "online: upstream base images", !c.Settings.Offline },
		Run: func(ctx context.Context, c *stage.Context) (string, error) {
			return "", Ensure(ctx, c, refs...)
		}}
}

// projectRegistry starts the project's registry if need be and installs crane, which talks to it.
func projectRegistry(ctx context.Context, root string) (addr, crane string, err error) {
	reg, err := registry.Project(ctx, root)
	if err != nil {
		return "", "", err
	}
	crane, err = tools.Path(ctx, root, "crane")
	return reg.Addr, crane, err
}

// Missing lists those of refs whose stand-in the registry at addr does not hold.
func Missing(ctx context.Context, crane, addr string, refs []image.Ref) []image.Ref {
	var missing []image.Ref
	for _, u := range refs {
		if _, err := (oci.Crane{Bin: crane}).Digest(ctx, u.In(addr+"/"+image.StandInPrefix)); err != nil {
			missing = append(missing, u)
		}
	}
	return missing
}

// Setup fills the project's registry with current stand-ins of every upstream image
// (`SLIPWAY_OFFLINE=1 mage setup`), asking Debian for newer packages, and says what it made.
func Setup(ctx context.Context, root string, out io.Writer) error {
	return build(ctx, root, out, Options{Refresh: true})
}

// build runs Build against the project's registry (started if need be) and says loudly what it made.
func build(ctx context.Context, root string, out io.Writer, o Options) error {
	addr, crane, err := projectRegistry(ctx, root)
	if err != nil {
		return err
	}
	o.Crane, o.Registry, o.Cache, o.Out = crane, addr, filepath.Join(project.StateDir(root), "standin"), out
	fmt.Fprintf(out, "offline: building stand-ins for the upstream images into the project's registry %s\n", addr)
	imgs, err := Build(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "!! OFFLINE STAND-INS: with SLIPWAY_OFFLINE=1 images build FROM these local imitations, not upstream:")
	for _, img := range imgs {
		fmt.Fprintf(out, "!!   %-58s for %s\n", img.Ref+"@"+img.Digest[:19], img.Upstream)
	}
	return nil
}

func joinRefs(refs []image.Ref) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}
