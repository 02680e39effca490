package httpadapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// This file is the one request decoder of the adapter. Every endpoint reads its parameters
// through decodeParams, which merges the query string and the body (JSON or
// application/x-www-form-urlencoded) into one tree with Rails' bracket-key rules:
//
//	user[login]=john            → {"user": {"login": "john"}}
//	id[in][]=1&id[in][]=2       → {"id": {"in": ["1", "2"]}}
//	a[][b]=1&a[][c]=2&a[][b]=3  → {"a": [{"b": "1", "c": "2"}, {"b": "3"}]}
//	{"firebase_phone[project_id]": "p"} (JSON) → {"firebase_phone": {"project_id": "p"}}
//
// Values in the tree are string (query and form values, JSON strings), json.Number, bool,
// nil (JSON null), []any and params. Numbers may arrive as JSON numbers or as numeric
// strings; asInt64 accepts both. Body keys override query keys of the same top-level name.
// A repeated plain key keeps its last value; a key used both as a scalar and as an object or
// array, a nesting deeper than maxParamDepth or more than maxParamCount values is a bad
// request (errBadRequest, 400).

// params is a decoded request: a tree of parameters (see decodeParams).
type params map[string]any

const (
	// maxParamDepth bounds the nesting of bracket keys and JSON values.
	maxParamDepth = 32
	// maxParamCount bounds the number of values (leaves, objects and arrays) in one request,
	// so that a 1 MiB body cannot expand into hundreds of megabytes of maps.
	maxParamCount = 10000
)

// errBadRequest is the sentinel of malformed requests (400).
var errBadRequest = errors.New("httpadapter: bad request")

// errTooLarge is the sentinel of bodies over Config.MaxBodyBytes (413).
var errTooLarge = errors.New("httpadapter: request body too large")

// badRequest is a malformed request; Msg is sent to the client.
type badRequest struct{ Msg string }

func (e *badRequest) Error() string { return "httpadapter: bad request: " + e.Msg }
func (e *badRequest) Unwrap() error { return errBadRequest }

func badf(format string, a ...any) error { return &badRequest{Msg: fmt.Sprintf(format, a...)} }

// decodeParams reads r's query string and body (at most maxBody bytes; more is errTooLarge)
// into one params tree. JSON is recognised by a Content-Type of application/json or
// anything ending in +json; form bodies by application/x-www-form-urlencoded; a body with
// another or no Content-Type is decoded as JSON when it starts with '{' and as a form
// otherwise. A multipart body is a bad request. The result is nil (and, being a map, readable)
// for a request without parameters.
func decodeParams(w http.ResponseWriter, r *http.Request, maxBody int64) (params, error) {
	var p params // stays nil (and readable) for a request without parameters
	d := &decoder{}
	if q := r.URL.RawQuery; q != "" {
		p = params{}
		if err := d.parseForm(p, q); err != nil {
			return nil, err
		}
	}
	if r.Body == nil || r.Body == http.NoBody {
		return p, nil
	}
	if r.ContentLength > maxBody {
		return nil, errTooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, errTooLarge
		}
		return nil, badf("the request body could not be read")
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return p, nil
	}
	b := params{}
	switch bodyKind(r.Header.Get("Content-Type"), body) {
	case kindJSON:
		err = d.parseJSON(b, body)
	case kindForm:
		err = d.parseForm(b, string(body))
	default:
		err = badf("unsupported Content-Type; send application/json or application/x-www-form-urlencoded")
	}
	if err != nil {
		return nil, err
	}
	if p == nil {
		return b, nil
	}
	for k, v := range b {
		p[k] = v
	}
	return p, nil
}

type kind int

const (
	kindJSON kind = iota
	kindForm
	kindUnsupported
)

func bodyKind(contentType string, body []byte) kind {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(contentType))
	}
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return kindJSON
	case mt == "application/x-www-form-urlencoded":
		return kindForm
	case strings.HasPrefix(mt, "multipart/"):
		return kindUnsupported
	case body[0] == '{':
		return kindJSON
	default:
		return kindForm
	}
}

// decoder counts values across one request.
type decoder struct{ count int }

func (d *decoder) add() error {
	d.count++
	if d.count > maxParamCount {
		return badf("too many parameters (maximum is %d)", maxParamCount)
	}
	return nil
}

// parseForm decodes an x-www-form-urlencoded string (a query string or a form body) into p.
// '+' and %20 both decode to a space; percent escapes may use either case.
func (d *decoder) parseForm(p params, s string) error {
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return badf("malformed percent-encoding in a parameter name")
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return badf("malformed percent-encoding in parameter %s", quoteKey(key))
		}
		if key == "" {
			continue
		}
		path, ok := splitKey(key)
		if !ok {
			return badf("parameter %s is nested too deeply", quoteKey(key))
		}
		if err := d.add(); err != nil {
			return err
		}
		if err := insert(p, path, val, key); err != nil {
			return err
		}
	}
	return nil
}

// splitKey splits a Rails parameter name: "a[b][]" → ["a", "b", ""]. A name that is not of
// the form name[seg]...[seg] is kept whole as a single segment, as Rails does for "a[b" or
// "[a]". ok is false when the name has more than maxParamDepth segments.
func splitKey(key string) (path []string, ok bool) {
	i := strings.IndexByte(key, '[')
	if i <= 0 || !strings.HasSuffix(key, "]") {
		return []string{key}, true
	}
	path = append(path, key[:i])
	rest := key[i:]
	for rest != "" {
		if rest[0] != '[' {
			return []string{key}, true
		}
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			return []string{key}, true
		}
		seg := rest[1:j]
		if strings.IndexByte(seg, '[') >= 0 {
			return []string{key}, true
		}
		path = append(path, seg)
		if len(path) > maxParamDepth {
			return nil, false
		}
		rest = rest[j+1:]
	}
	return path, true
}

func quoteKey(k string) string {
	if len(k) > 64 {
		k = k[:64] + "..."
	}
	return strconv.Quote(k)
}

// insert stores v at path in p following Rails' rules; an empty segment appends to an array.
// key is the full parameter name, for error messages.
func insert(p params, path []string, v any, key string) error {
	k := path[0]
	if len(path) == 1 {
		return set(p, k, v, key)
	}
	if path[1] == "" {
		arr, ok := p[k].([]any)
		if !ok {
			if _, exists := p[k]; exists {
				return conflict(key)
			}
		}
		if len(path) == 2 {
			p[k] = append(arr, v)
			return nil
		}
		// a[][b]=...: fill the last object unless it already has b, else start a new one.
		var last params
		if n := len(arr); n > 0 {
			last, _ = arr[n-1].(params)
		}
		if last == nil || hasKey(last, path[2]) {
			last = params{}
			arr = append(arr, last)
		}
		p[k] = arr
		return insert(last, path[2:], v, key)
	}
	child, ok := p[k].(params)
	if !ok {
		if _, exists := p[k]; exists {
			return conflict(key)
		}
		child = params{}
		p[k] = child
	}
	return insert(child, path[1:], v, key)
}

func hasKey(p params, k string) bool {
	if k == "" {
		return false
	}
	_, ok := p[k]
	return ok
}

// set stores v under k. Two objects merge; a scalar replaces a scalar (the last value wins);
// any other mix of a scalar with an object or an array conflicts.
func set(p params, k string, v any, key string) error {
	old, exists := p[k]
	if !exists {
		p[k] = v
		return nil
	}
	switch o := old.(type) {
	case params:
		nv, ok := v.(params)
		if !ok {
			return conflict(key)
		}
		for ck, cv := range nv {
			if err := set(o, ck, cv, key+"["+ck+"]"); err != nil {
				return err
			}
		}
		return nil
	case []any:
		nv, ok := v.([]any)
		if !ok {
			return conflict(key)
		}
		p[k] = append(o, nv...)
		return nil
	}
	switch v.(type) {
	case params, []any:
		return conflict(key)
	}
	p[k] = v
	return nil
}

func conflict(key string) error {
	return badf("parameter %s is used both as a value and as an object or list", quoteKey(key))
}

// parseJSON decodes a JSON object into p, in document order. Object keys in bracket form
// ("user[login]") are expanded as in a form body.
func (d *decoder) parseJSON(p params, body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return badf("malformed JSON body")
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '{' {
		return badf("the JSON body must be an object")
	}
	if err := d.jsonObject(dec, p, 1); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return badf("malformed JSON body: data after the top-level object")
	}
	return nil
}

// jsonObject reads the members of an object whose '{' was consumed, up to its '}'.
func (d *decoder) jsonObject(dec *json.Decoder, p params, depth int) error {
	for {
		tok, err := dec.Token()
		if err != nil {
			return badf("malformed JSON body")
		}
		if delim, ok := tok.(json.Delim); ok && delim == '}' {
			return nil
		}
		name, ok := tok.(string)
		if !ok {
			return badf("malformed JSON body")
		}
		v, err := d.jsonValue(dec, depth)
		if err != nil {
			return err
		}
		path, ok := splitKey(name)
		if !ok || depth+len(path) > maxParamDepth+1 {
			return badf("parameter %s is nested too deeply", quoteKey(name))
		}
		if path[0] == "" {
			continue
		}
		if err := insert(p, path, v, name); err != nil {
			return err
		}
	}
}

func (d *decoder) jsonValue(dec *json.Decoder, depth int) (any, error) {
	if err := d.add(); err != nil {
		return nil, err
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, badf("malformed JSON body")
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return tok, nil // string, json.Number, bool or nil
	}
	if depth >= maxParamDepth {
		return nil, badf("the JSON body is nested too deeply (maximum is %d levels)", maxParamDepth)
	}
	switch delim {
	case '{':
		obj := params{}
		if err := d.jsonObject(dec, obj, depth+1); err != nil {
			return nil, err
		}
		return obj, nil
	case '[':
		arr := []any{}
		for dec.More() {
			v, err := d.jsonValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		if _, err := dec.Token(); err != nil {
			return nil, badf("malformed JSON body")
		}
		return arr, nil
	}
	return nil, badf("malformed JSON body")
}

// get returns the value at path, following objects.
func (p params) get(path ...string) (any, bool) {
	var cur any = p
	for _, k := range path {
		m, ok := cur.(params)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// object returns the object at path, or nil when it is absent or not an object.
func (p params) object(path ...string) params {
	v, _ := p.get(path...)
	m, _ := v.(params)
	return m
}

// asString returns a scalar as the text the client sent: strings as they are, JSON numbers
// in their literal form, booleans as "true"/"false" and null as "". ok is false for objects
// and arrays.
func asString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return string(x), true
	case bool:
		return strconv.FormatBool(x), true
	case nil:
		return "", true
	}
	return "", false
}

// asInt64 parses an integer given as a JSON number or a numeric string ("42", " 42 ",
// "42.0" are accepted; "4.2", "", "1e3" are not).
func asInt64(v any) (int64, bool) {
	s, ok := asString(v)
	if !ok {
		return 0, false
	}
	if _, isBool := v.(bool); isBool || v == nil {
		return 0, false
	}
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '.'); i > 0 && strings.Trim(s[i+1:], "0") == "" {
		s = s[:i] // "42.0"
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// asBool reads the truthy forms clients send: true, 1, "1", "true" (any case). Everything
// else, including absent values, is false.
func asBool(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case json.Number:
		return string(x) == "1"
	case string:
		s := strings.ToLower(strings.TrimSpace(x))
		return s == "1" || s == "true"
	}
	return false
}

// asStrings returns an array of scalars, or a single scalar as a one-element list. ok is false
// when an element is an object or an array.
func asStrings(v any) ([]string, bool) {
	switch x := v.(type) {
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := asString(e)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	case params:
		return nil, false
	}
	s, ok := asString(v)
	if !ok {
		return nil, false
	}
	return []string{s}, true
}

// flatten returns every parameter as a flat bracket-keyed map with raw (unencoded) values,
// the form in which the SDKs sign session requests: {"user":{"login":"x"}} →
// "user[login]"="x". Array elements get their index as key ("a[0]", as the JavaScript SDK's
// signer produces), null becomes "".
func (p params) flatten() map[string]string {
	out := make(map[string]string, len(p))
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case params:
			for k, c := range x {
				walk(prefix+"["+k+"]", c)
			}
		case []any:
			for i, c := range x {
				walk(prefix+"["+strconv.Itoa(i)+"]", c)
			}
		default:
			s, _ := asString(x)
			out[prefix] = s
		}
	}
	for k, v := range p {
		switch v.(type) {
		case params, []any:
			walk(k, v)
		default:
			s, _ := asString(v)
			out[k] = s
		}
	}
	return out
}
