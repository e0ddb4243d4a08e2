// Package purl names what a release is made of as package URLs
// (https://github.com/package-url/purl-spec), the identifiers that provenance and VEX documents
// use and that scanners such as Trivy match on.
package purl

import (
	"strings"

	"github.com/package-url/packageurl-go"
)

// Go is a Go module or package at a version: pkg:golang/golang.org/x/mod@v0.42.0. The path keeps
// its case; purl parsers (Trivy's, go-vex's) lower-case golang names before comparing.
func Go(path, version string) string {
	ns, name := "", path
	if i := strings.LastIndex(path, "/"); i >= 0 {
		ns, name = path[:i], path[i+1:]
	}
	return packageurl.NewPackageURL(packageurl.TypeGolang, ns, name, version, nil, "").ToString()
}

// OCI is an image by digest in a repository, the way Trivy names the image it scans:
// pkg:oci/slipway@sha256%3A...?repository_url=ghcr.io/owner/slipway. repository is the full
// name (registry host included, as go-containerregistry's Repository.Name() spells it).
func OCI(repository, digest string) string {
	name := strings.ToLower(repository[strings.LastIndex(repository, "/")+1:])
	q := packageurl.Qualifiers{{Key: "repository_url", Value: repository}}
	return packageurl.NewPackageURL(packageurl.TypeOCI, "", name, digest, q, "").ToString()
}
