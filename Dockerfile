# The service built from source, for anyone who has only `docker build .`:
#
#   docker build -t slipway .
#
# `mage docker:source` builds the same file with the version stamped and, with SLIPWAY_OFFLINE=1 or
# SLIPWAY_IMAGE_MIRROR, with the base images below taken from a mirror or the offline stand-ins.
# The image releases ship is Dockerfile.distroless (the binary `mage build:all` made, no compiler).
#
# No "# syntax=" line on purpose: it would pull a frontend image at every build. The Dockerfile
# frontend built into the engine's BuildKit (Docker 20.10+) already knows RUN --mount.

# Upstream images, pinned by digest. internal/pipeline/image lists them in one place; a test
# keeps these defaults equal to it.
ARG GO_IMAGE=docker.io/library/golang:1.26.8@sha256:3c3e25a4da13fd0478eed2df1eb35a0e667094a7124d3993a6a1d30f71c17e79
ARG RUNTIME_IMAGE=docker.io/library/alpine:3.24.2@sha256:294b683cb724975bec92580e1e685676bd4b50bda910ddb8c51d4cabeaec77e6

# The builder runs on the build machine's own platform and cross-compiles for the target one:
# CGO_ENABLED=0 needs no emulation.
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
WORKDIR /src
# Modules first, in their own step: a source change reuses it, only go.mod/go.sum redownload.
# The cache mount keeps the module cache between builds without putting it into the image.
# The build machine's module proxy (an internal one, on a machine without the internet) comes
# as a BuildKit secret, `--secret id=goproxy,env=GOPROXY`: it may carry credentials, which a
# build argument would leave in the image's history and on the command line. Without it the
# builder image's default applies.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=secret,id=goproxy \
    if [ -s /run/secrets/goproxy ]; then export GOPROXY="$(cat /run/secrets/goproxy)"; fi; \
    go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
# The same flags as `mage build:all` (internal/pipeline/gobuild; a test compares them): static,
# no paths or VCS data, symbols stripped, an empty build ID, and the version stamped. Declared
# late so a new version does not redo the module download.
ARG VERSION=0.0.0-dev
ARG COMMIT=unknown
ARG DATE=unknown
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOFLAGS= \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -buildid= -X github.com/slipway-dev/slipway/internal/buildinfo.Version=${VERSION} -X github.com/slipway-dev/slipway/internal/buildinfo.Commit=${COMMIT} -X github.com/slipway-dev/slipway/internal/buildinfo.Date=${DATE}" \
      -o /out/slipway ./cmd/slipway

# Alpine brings a shell and busybox for poking around; its CA bundle
# (/etc/ssl/certs/ca-certificates.crt) comes with the base image, and the binary carries
# trusted roots of its own as well.
FROM ${RUNTIME_IMAGE}
ARG VERSION=0.0.0-dev
ARG COMMIT=unknown
ARG DATE=unknown
ARG SOURCE=https://github.com/slipway-dev/slipway
LABEL org.opencontainers.image.title="slipway" \
      org.opencontainers.image.description="A Go service built by Slipway's pipeline (from source, Alpine base)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.created="${DATE}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="MIT"
COPY --from=build /out/slipway /usr/local/bin/slipway
# Numeric, so Kubernetes' runAsNonRoot can verify it without an /etc/passwd entry.
USER 65532:65532
EXPOSE 8080
# The service's own probe: no curl or wget needed. It reads SLIPWAY_ADDR like the server does.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/slipway", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/slipway"]
