package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The sample API: small, but it shows the checks every handler that takes input needs.
const (
	maxBody     = 1 << 20 // bytes of request body accepted; more gets 413
	maxNameLen  = 64      // characters
	greetFormat = "Hello, %s!"
)

type greetRequest struct {
	Name string `json:"name"`
}

type greetResponse struct {
	Message string `json:"message"`
}

func greetQuery(w http.ResponseWriter, r *http.Request) {
	greet(w, r, r.URL.Query().Get("name"))
}

func greetBody(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	var req greetRequest
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", maxBody))
			return
		}
		writeError(w, r, http.StatusBadRequest, "malformed JSON: "+err.Error())
		return
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		writeError(w, r, http.StatusBadRequest, "malformed JSON: the body must be one object and nothing after it")
		return
	}
	greet(w, r, req.Name)
}

func greet(w http.ResponseWriter, r *http.Request, name string) {
	if err := validName(name); err != nil {
		writeError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, greetResponse{Message: fmt.Sprintf(greetFormat, strings.TrimSpace(name))})
}

// validName allows letters, marks, spaces, hyphens, apostrophes and periods: enough for real
// names in any script, and nothing that could smuggle markup or control characters.
func validName(name string) error {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return errors.New("name is required")
	case !utf8.ValidString(name):
		return errors.New("name must be valid UTF-8")
	case utf8.RuneCountInString(name) > maxNameLen:
		return fmt.Errorf("name is longer than %d characters", maxNameLen)
	}
	for _, c := range name {
		if !unicode.IsLetter(c) && !unicode.Is(unicode.M, c) && !strings.ContainsRune(" -'.", c) {
			return fmt.Errorf("name has a character that is not allowed: %q", c)
		}
	}
	return nil
}
