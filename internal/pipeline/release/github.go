package release

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
)

// GitHub makes a release's GitHub release through GitHub's REST API, in the order that keeps a
// failure private: a draft (visible only to the repository's writers), then every file, then the
// draft made public. goreleaser never publishes: what goes up is the dist/ that verified.
type GitHub struct {
	API         string // https://api.github.com, or GITHUB_API_URL (GitHub Enterprise; a test server)
	Token       string
	Owner, Repo string
	HTTP        *http.Client
}

// Draft is a created, not yet public, GitHub release.
type Draft struct {
	ID        int64  `json:"id"`
	URL       string `json:"html_url"`
	UploadURL string `json:"upload_url"` // a URI template: .../assets{?name,label}
}

// Asset is a file to attach and the digest it verified with: the bytes uploaded must match it.
type Asset struct {
	Name, Path, SHA256 string
}

// Environment of the GitHub step: Actions sets GITHUB_API_URL; the job passes GITHUB_TOKEN.
const (
	TokenEnv     = "GITHUB_TOKEN" //nolint:gosec // the variable's name, not a credential
	apiURLEnv    = "GITHUB_API_URL"
	defaultAPI   = "https://api.github.com"
	githubAPIVer = "2022-11-28"
)

// GitHubFrom is the GitHub step of a publishing release, or why it cannot run. Without
// GITHUB_TOKEN a CI build of a tag fails (in CI the token is there: a release without its
// GitHub release is not what a tag push asked for); elsewhere the step is NOT RUN, loudly.
func GitHubFrom(s settings.Settings, owner, repo string, tagBuild bool) (*GitHub, string, error) {
	token := s.GitHubToken
	switch {
	case token == "" && tagBuild:
		return nil, "", fmt.Errorf("this CI build of a tag must create the GitHub release, but %s is not set: "+
			"pass `%s: ${{ secrets.GITHUB_TOKEN }}` to the release step (permissions: contents: write)", TokenEnv, TokenEnv)
	case token == "":
		return nil, "no " + TokenEnv, nil
	case owner == "" || repo == "":
		return nil, "", fmt.Errorf("%s: release.github.owner and .name must name the GitHub repository to publish to", ConfigFile)
	}
	api := strings.TrimSuffix(s.GitHubAPIURL, "/")
	if api == "" {
		api = defaultAPI
	}
	return &GitHub{API: api, Token: token, Owner: owner, Repo: repo, HTTP: &http.Client{Timeout: 10 * time.Minute}}, "", nil
}

// CheckUnpublished fails if tag already has a public release: a release is never replaced.
func (g GitHub) CheckUnpublished(ctx context.Context, tag string) error {
	var rel struct {
		URL string `json:"html_url"`
	}
	err := g.call(ctx, http.MethodGet, g.repoURL("/releases/tags/"+url.PathEscape(tag)), "", nil, &rel)
	var he *httpError
	switch {
	case errors.As(err, &he) && he.status == http.StatusNotFound:
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("%s is already released on GitHub (%s): a release is never replaced; tag a new version", tag, rel.URL)
}

// CreateDraft creates the draft release of tag, with body as its notes.
func (g GitHub) CreateDraft(ctx context.Context, tag, body string, prerelease bool) (Draft, error) {
	req, err := json.Marshal(map[string]any{"tag_name": tag, "name": tag, "body": body, "draft": true, "prerelease": prerelease})
	if err != nil {
		return Draft{}, err
	}
	var d Draft
	if err := g.call(ctx, http.MethodPost, g.repoURL("/releases"), "application/json", req, &d); err != nil {
		return Draft{}, fmt.Errorf("creating the draft GitHub release of %s: %w", tag, err)
	}
	if d.ID == 0 || d.UploadURL == "" {
		return Draft{}, fmt.Errorf("creating the draft GitHub release of %s: the answer has no release id or upload URL", tag)
	}
	return d, nil
}

// Upload attaches a file to the draft. It reads the file once, checks those bytes against the
// digest they verified with, sends exactly them, and checks what GitHub says it stored.
func (g GitHub) Upload(ctx context.Context, d Draft, a Asset) error {
	data, err := os.ReadFile(a.Path)
	if err != nil {
		return err
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != a.SHA256 {
		return fmt.Errorf("%s changed after it was verified (sha256 %x, verified %s): not uploading it", a.Name, sum, a.SHA256)
	}
	base, _, _ := strings.Cut(d.UploadURL, "{")
	var got struct {
		Name   string `json:"name"`
		Size   int64  `json:"size"`
		State  string `json:"state"`
		Digest string `json:"digest"` // sha256:..., on newer GitHub versions
	}
	if err := g.call(ctx, http.MethodPost, base+"?name="+url.QueryEscape(a.Name), "application/octet-stream", data, &got); err != nil {
		return fmt.Errorf("uploading %s: %w", a.Name, err)
	}
	if got.Name != a.Name || got.Size != int64(len(data)) || got.State != "uploaded" || (got.Digest != "" && got.Digest != "sha256:"+a.SHA256) {
		return fmt.Errorf("uploading %s: GitHub stored %q (%d bytes, state %q, digest %q), want %d bytes with sha256:%s",
			a.Name, got.Name, got.Size, got.State, got.Digest, len(data), a.SHA256)
	}
	return nil
}

// MakePublic publishes the draft: the last step of a release.
func (g GitHub) MakePublic(ctx context.Context, d Draft) error {
	var rel struct {
		Draft bool `json:"draft"`
	}
	if err := g.call(ctx, http.MethodPatch, g.repoURL(fmt.Sprintf("/releases/%d", d.ID)), "application/json", []byte(`{"draft":false}`), &rel); err != nil {
		return fmt.Errorf("publishing the draft GitHub release %s: %w", d.URL, err)
	}
	if rel.Draft {
		return fmt.Errorf("publishing the draft GitHub release %s: it is still a draft", d.URL)
	}
	return nil
}

func (g GitHub) repoURL(path string) string {
	return g.API + "/repos/" + url.PathEscape(g.Owner) + "/" + url.PathEscape(g.Repo) + path
}

// httpError is a GitHub answer other than 2xx: its status and GitHub's message.
type httpError struct {
	method, url string
	status      int
	message     string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("GitHub: %s %s: %d %s: %s", e.method, e.url, e.status, http.StatusText(e.status), e.message)
}

// call sends one request with the token (never printed) and decodes a 2xx JSON answer into out.
func (g GitHub) call(ctx context.Context, method, u, contentType string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+g.Token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", githubAPIVer)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := g.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("GitHub: %s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("GitHub: %s %s: %w", method, u, err)
	}
	if resp.StatusCode/100 != 2 {
		var m struct {
			Message string          `json:"message"`
			Errors  json.RawMessage `json:"errors"`
		}
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &m) == nil && m.Message != "" {
			msg = m.Message
			if len(m.Errors) > 0 {
				msg += " " + string(m.Errors)
			}
		}
		if len(msg) > 500 {
			msg = msg[:500] + "..."
		}
		return &httpError{method: method, url: u, status: resp.StatusCode, message: msg}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("GitHub: %s %s: the answer is not JSON: %w", method, u, err)
	}
	return nil
}
