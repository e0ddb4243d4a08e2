// Package githubtest is GitHub's releases API as far as a release uses it, on a loopback port:
// the stand-in for api.github.com that the release's unit tests and the publishing end-to-end
// test point GITHUB_API_URL at. It keeps the state a real one would (one release of one tag,
// draft or public, its assets' bytes), records every call in order, and can be told to fail.
package githubtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
)

// Token is the only token the server accepts.
const Token = "githubtest-token" //nolint:gosec // a test server's token

// releaseID is the id of the one release the server makes.
const releaseID = 7

// Server is the fake API for one repository and one tag.
type Server struct {
	URL              string // for GITHUB_API_URL
	Owner, Repo, Tag string
	FailUpload       string            // uploading this asset answers 500
	OnCall           func(call string) // sees each call before it is answered, under the lock
	Released         bool              // the tag has a public release already
	mu               sync.Mutex
	calls            []string // "METHOD path[?name=...]"
	created, draft   bool
	assets           map[string][]byte
	assetOrder       []string
	srv              *httptest.Server
}

// New starts a server that the test stops.
func New(t testing.TB, owner, repo, tag string) *Server {
	s := &Server{Owner: owner, Repo: repo, Tag: tag, assets: map[string][]byte{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Client is an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Calls are the calls so far, in order.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// State says whether a release was created and whether it is still a draft.
func (s *Server) State() (created, draft bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created, s.draft
}

// Assets are the uploaded files' bytes by name, and the names in upload order.
func (s *Server) Assets() (map[string][]byte, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string][]byte{}
	for k, v := range s.assets {
		m[k] = slices.Clone(v)
	}
	return m, slices.Clone(s.assetOrder)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	call := r.Method + " " + r.URL.Path
	if n := r.URL.Query().Get("name"); n != "" {
		call += "?name=" + n
	}
	s.calls = append(s.calls, call)
	if s.OnCall != nil {
		s.OnCall(call)
	}
	if r.Header.Get("Authorization") != "Bearer "+Token {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	body, _ := io.ReadAll(r.Body)
	repo := "/repos/" + s.Owner + "/" + s.Repo
	uploads := fmt.Sprintf("/uploads/%d/assets", releaseID)
	switch {
	case r.Method == http.MethodGet && r.URL.Path == repo+"/releases/tags/"+s.Tag:
		if !s.Released {
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
			return
		}
		fmt.Fprintf(w, `{"id":1,"html_url":"https://github.example/%s/%s/releases/%s"}`, s.Owner, s.Repo, s.Tag)
	case r.Method == http.MethodPost && r.URL.Path == repo+"/releases":
		var req struct {
			Draft bool   `json:"draft"`
			Tag   string `json:"tag_name"`
		}
		if err := json.Unmarshal(body, &req); err != nil || !req.Draft || req.Tag != s.Tag {
			http.Error(w, fmt.Sprintf(`{"message":"want a draft of %s"}`, s.Tag), http.StatusUnprocessableEntity)
			return
		}
		s.created, s.draft = true, true
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%d,"html_url":"https://github.example/%s/%s/releases/tag/untagged-%d","upload_url":"%s%s{?name,label}"}`,
			releaseID, s.Owner, s.Repo, releaseID, s.URL, uploads)
	case r.Method == http.MethodPost && r.URL.Path == uploads && s.draft:
		name := r.URL.Query().Get("name")
		if name == s.FailUpload {
			http.Error(w, `{"message":"Server Error"}`, http.StatusInternalServerError)
			return
		}
		if _, dup := s.assets[name]; dup {
			http.Error(w, `{"message":"Validation Failed","errors":[{"code":"already_exists"}]}`, http.StatusUnprocessableEntity)
			return
		}
		sum := sha256.Sum256(body)
		s.assets[name] = body
		s.assetOrder = append(s.assetOrder, name)
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"name": name, "size": len(body), "state": "uploaded", "digest": "sha256:" + hex.EncodeToString(sum[:])})
	case r.Method == http.MethodPatch && r.URL.Path == fmt.Sprintf("%s/releases/%d", repo, releaseID) && s.created:
		s.draft = false
		fmt.Fprintf(w, `{"id":%d,"draft":false}`, releaseID)
	default:
		http.Error(w, `{"message":"unexpected call"}`, http.StatusNotFound)
	}
}
