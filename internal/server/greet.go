package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
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
	err := dec.Decode(&req)
	if err == nil {
		// Only whitespace may follow the object, and it counts towards the limit too.
		if err = dec.Decode(&struct{}{}); errors.Is(err, io.EOF) {
			greet(w, r, req.Name)
			return
		}
		if !isTooBig(err) {
			writeError(w, r, http.StatusBadRequest, "malformed JSON: the body must be one object and nothing after it")
			return
		}
	}
	status, msg := badBody(err)
	writeError(w, r, status, msg)
}

func isTooBig(err error) bool {
	var tooBig *http.MaxBytesError
	return errors.As(err, &tooBig)
}

// badBody is the answer to a body that did not decode. encoding/json's own messages name Go
// types ("cannot unmarshal number into Go struct field greetRequest.name of type string"): the
// client gets the field and the JSON type it wants instead.
func badBody(err error) (status int, msg string) {
	var syntax *json.SyntaxError
	var wrongType *json.UnmarshalTypeError
	switch {
	case isTooBig(err):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", maxBody)
	case errors.Is(err, io.EOF):
		return http.StatusBadRequest, `malformed JSON: the body is empty; want an object such as {"name":"Ada"}`
	case errors.Is(err, io.ErrUnexpectedEOF):
		return http.StatusBadRequest, "malformed JSON: the body ends in the middle of a value"
	case errors.As(err, &syntax):
		return http.StatusBadRequest, fmt.Sprintf("malformed JSON at byte %d: %s", syntax.Offset, syntax)
	case errors.As(err, &wrongType) && wrongType.Field == "":
		return http.StatusBadRequest, fmt.Sprintf(`malformed JSON: the body must be an object such as {"name":"Ada"}, not %s`, jsonKind(wrongType.Value))
	case errors.As(err, &wrongType):
		return http.StatusBadRequest, fmt.Sprintf("malformed JSON: field %q must be %s, not %s", wrongType.Field, jsonType(wrongType.Type.Kind()), jsonKind(wrongType.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "): // DisallowUnknownFields has no error type
		return http.StatusBadRequest, "malformed JSON: " + clip(strings.TrimPrefix(err.Error(), "json: "))
	}
	return http.StatusBadRequest, `malformed JSON: want one object such as {"name":"Ada"}`
}

// jsonKind names a JSON value as encoding/json reports it ("number", "array", ...) with its article.
func jsonKind(v string) string {
	if v != "" && strings.ContainsRune("aeiou", rune(v[0])) {
		return "an " + v
	}
	return "a " + v
}

// jsonType is the JSON a field of Go kind k takes.
func jsonType(k reflect.Kind) string {
	switch {
	case k == reflect.String:
		return "a string"
	case k == reflect.Bool:
		return "true or false"
	case reflect.Int <= k && k <= reflect.Float64:
		return "a number"
	case k == reflect.Slice || k == reflect.Array:
		return "an array"
	}
	return "an object"
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
