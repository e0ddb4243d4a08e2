// Package version computes the stamp (version, commit, date) linked into every binary.
//
// The version comes from `git describe`, shaped into semver so that it sorts and reads the same
// in the binary, the archives and the image tags:
//
//	on tag v1.2.3                    v1.2.3
//	4 commits after v1.2.3           v1.2.3-4-gabc1234
//	uncommitted changes              ...-dirty (v1.2.3-dirty, v1.2.3-4-gabc1234-dirty)
//	no v* tag yet                    v0.0.0-gabc1234[-dirty]
//	not a git checkout (a tarball)   0.0.0-dev (buildinfo's default), commit "unknown"
//
// The date is the commit time in UTC, never the build time, so two builds of one commit are
// byte-identical; SOURCE_DATE_EPOCH (the reproducible-builds convention) overrides it.
package version

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/semver"

	"github.com/slipway-dev/slipway/internal/buildinfo"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/git"
)

// Stamp is what the linker writes into internal/buildinfo.
type Stamp struct {
	Version string
	Commit  string // full SHA
	Date    string // RFC 3339, UTC
}

// Dev is the stamp of a build outside a git checkout.
var Dev = Stamp{Version: buildinfo.Version, Commit: buildinfo.Commit, Date: buildinfo.Date}

// Describe stamps the checkout at dir. A non-empty epoch (SOURCE_DATE_EPOCH, Unix seconds) is
// the date instead of the commit's.
func Describe(ctx context.Context, dir, epoch string) (Stamp, error) {
	repo := git.Repo{Dir: dir}
	if !git.Installed() {
		return withEpoch(Dev, epoch)
	}
	if _, ok := repo.Head(ctx); !ok {
		// Not a repository, or one without commits: there is nothing to describe.
		return withEpoch(Dev, epoch)
	}
	desc, err := repo.Describe(ctx)
	if err != nil {
		return Stamp{}, err
	}
	v, err := Shape(desc)
	if err != nil {
		return Stamp{}, err
	}
	sha, secs, err := repo.HeadCommit(ctx)
	if err != nil {
		return Stamp{}, err
	}
	date, err := unixDate(secs)
	if err != nil {
		return Stamp{}, fmt.Errorf("commit time of %s: %w", sha, err)
	}
	return withEpoch(Stamp{Version: v, Commit: sha, Date: date}, epoch)
}

// describeRE splits `git describe` output: tag, commits since it, abbreviated hash.
var describeRE = regexp.MustCompile(`^(.+)-([0-9]+)-g([0-9a-f]+)$`)

// hashRE is `git describe --always` output when no tag matched.
var hashRE = regexp.MustCompile(`^[0-9a-f]{4,}$`)

// Shape turns `git describe --tags --always --dirty` output into the version (see package doc).
func Shape(describe string) (string, error) {
	d, dirty := strings.CutSuffix(strings.TrimSpace(describe), "-dirty")
	suffix := ""
	if dirty {
		suffix = "-dirty"
	}
	if hashRE.MatchString(d) {
		return "v0.0.0-g" + d + suffix, nil
	}
	tag, rest := d, ""
	if m := describeRE.FindStringSubmatch(d); m != nil {
		tag, rest = m[1], "-"+m[2]+"-g"+m[3]
	}
	if !semver.IsValid(tag) || semver.Build(tag) != "" {
		return "", fmt.Errorf("git tag %q is not a semver version like v1.2.3: retag it, or delete it with `git tag -d %s`", tag, tag)
	}
	// v1.2 -> v1.2.0: tools downstream (goreleaser, image tags) expect three numbers.
	tag = semver.Canonical(tag)
	if rest != "" && semver.Prerelease(tag) != "" {
		// v1.2.3-rc.1-4-gabc: join with "." so the result stays a single valid prerelease.
		rest = "." + rest[1:]
	}
	return tag + rest + suffix, nil
}

// withEpoch applies SOURCE_DATE_EPOCH, the standard override for a reproducible build's date.
func withEpoch(s Stamp, epoch string) (Stamp, error) {
	if epoch == "" {
		return s, nil
	}
	date, err := unixDate(epoch)
	if err != nil {
		return Stamp{}, fmt.Errorf("SOURCE_DATE_EPOCH: %w (want Unix seconds, e.g. $(git log -1 --format=%%ct))", err)
	}
	s.Date = date
	return s, nil
}

func unixDate(secs string) (string, error) {
	n, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return "", errors.New("not a number of seconds: " + strconv.Quote(secs))
	}
	return time.Unix(n, 0).UTC().Format(time.RFC3339), nil
}
