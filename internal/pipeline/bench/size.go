package bench

import (
	"context"
	"fmt"
	"runtime"

	"github.com/slipway-dev/slipway/internal/pipeline/gobuild"
	"github.com/slipway-dev/slipway/internal/pipeline/image"
)

// naiveDockerfile is what a first Dockerfile often looks like: one stage, the Go image, the
// source and the build; compiler, module cache and build cache all ship in the image. The
// module proxy comes as docker:source passes it, a secret (it may carry credentials).
const naiveDockerfile = `ARG GO_IMAGE
FROM ${GO_IMAGE}
WORKDIR /src
COPY . .
ARG LDFLAGS
RUN --mount=type=secret,id=goproxy \
    if [ -s /run/secrets/goproxy ]; then export GOPROXY="$(cat /run/secrets/goproxy)"; fi; \
    CGO_ENABLED=0 GOFLAGS= go build -trimpath -buildvcs=false -ldflags "${LDFLAGS}" -o /usr/local/bin/slipway ./cmd/slipway
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/slipway"]
`

// sizeCase compares image sizes (uncompressed, all layers, as `docker image inspect` reports
// them) with the binary's. Sizes do not vary between runs, so each is measured once.
func sizeCase(ctx context.Context, b *bencher) ([]Result, error) {
	r := Result{Case: "size", Title: fmt.Sprintf("image size, linux/%s, uncompressed", runtime.GOARCH)}
	add := func(name, role string, bytes int64) {
		r.Series = append(r.Series, Series{Contender: name, Role: role, Metric: "size", Unit: "MiB", Values: []float64{float64(bytes) / (1 << 20)}})
	}
	fmt.Fprintln(b.out, "  distroless image (Dockerfile.distroless)")
	bin, dl, err := b.distroless(ctx)
	if err != nil {
		return []Result{r}, err
	}
	add("distroless image", "subject", dl.Size)
	add("binary alone", "limit", bin.Size)

	fmt.Fprintln(b.out, "  Alpine image (Dockerfile, from source)")
	l, err := b.images(ctx)
	if err != nil {
		return []Result{r}, err
	}
	alpine, err := l.FromSource(ctx, runtime.GOARCH)
	if err != nil {
		return []Result{r}, err
	}
	add("Alpine image (Dockerfile)", "peer", alpine.Size)

	fmt.Fprintln(b.out, "  naive single-stage golang image")
	o, err := b.naiveBuild(ctx)
	if err != nil {
		return []Result{r}, err
	}
	naive, err := b.buildDockerfile(ctx, o)
	if err != nil {
		return []Result{r}, err
	}
	add("naive single-stage golang image", "peer", naive.Size)

	over := float64(dl.Size-bin.Size) / (1 << 20)
	r.Goals = append(r.Goals, Verdict{Case: r.Case, Goal: "distroless image ≤ binary + 2.5 MiB",
		Measured: fmt.Sprintf("binary + %.2f MiB", over), Met: over <= 2.5})
	if b.o.Settings.Offline {
		r.Notes = append(r.Notes, "Offline: the base images are the stand-ins `mage setup` builds, not the upstream ones; "+
			"their sizes differ from upstream distroless, Alpine and golang images.")
	}
	return []Result{r}, nil
}

// naiveBuild is the build of naiveDockerfile from the checkout: docker:source's, with the
// -ldflags of build:all.
func (b *bencher) naiveBuild(ctx context.Context) (image.BuildOptions, error) {
	dir, err := b.scratch("naive-")
	if err != nil {
		return image.BuildOptions{}, err
	}
	df, err := writeFile(dir, "Dockerfile", naiveDockerfile)
	if err != nil {
		return image.BuildOptions{}, err
	}
	o, err := b.sourceBuild(ctx, df, b.o.Root, "naive")
	if err != nil {
		return o, err
	}
	o.Args["LDFLAGS"], err = gobuild.LDFlags(b.local.Stamp)
	return o, err
}
