package httpadapter

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func newReq(method, target, contentType, body string) *http.Request {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, target, nil)
	} else {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

const (
	ctJSON = "application/json;charset=utf-8"
	ctForm = "application/x-www-form-urlencoded; charset=UTF-8"
)

func TestDecodeParams(t *testing.T) {
	tests := []struct {
		name   string
		target string
		ct     string
		body   string
		want   params
		// wantErr is errBadRequest or errTooLarge; nil means success.
		wantErr error
	}{
		{name: "empty", target: "/x", want: params{}},
		{name: "query scalars", target: "/x?a=1&b=two", want: params{"a": "1", "b": "two"}},
		{name: "query plus and %20 are spaces, lower-case hex", target: "/x?q=a+b%20c%2cd%3A", want: params{"q": "a b c,d:"}},
		{name: "query brackets", target: "/x?user[login]=john&user[password]=p", want: params{"user": params{"login": "john", "password": "p"}}},
		{name: "percent-encoded brackets", target: "/x?user%5blogin%5d=john", want: params{"user": params{"login": "john"}}},
		{name: "array in array", target: "/x?id[in][]=1&id[in][]=2&limit=10", want: params{"id": params{"in": []any{"1", "2"}}, "limit": "10"}},
		{name: "filter list", target: "/x?filter[]=number+id+gt+5&filter[]=string+login+eq+x", want: params{"filter": []any{"number id gt 5", "string login eq x"}}},
		{name: "array of objects (Rails rule)", target: "/x?a[][b]=1&a[][c]=2&a[][b]=3", want: params{"a": []any{params{"b": "1", "c": "2"}, params{"b": "3"}}}},
		{name: "repeated plain key: last wins", target: "/x?a=1&a=2", want: params{"a": "2"}},
		{name: "malformed brackets kept literally", target: "/x?a[b=1&[c]=2&d]=3", want: params{"a[b": "1", "[c]": "2", "d]": "3"}},
		{name: "value with = and empty pairs", target: "/x?a=b=c&&d=&e", want: params{"a": "b=c", "d": "", "e": ""}},
		{name: "semicolon is data", target: "/x?a=1;b=2", want: params{"a": "1;b=2"}},
		{name: "bad escape in value", target: "/x?a=%zz", wantErr: errBadRequest},
		{name: "bad escape in key", target: "/x?%zz=1", wantErr: errBadRequest},
		{name: "scalar then object conflicts", target: "/x?user=1&user[login]=x", wantErr: errBadRequest},
		{name: "object then scalar conflicts", target: "/x?user[login]=x&user=1", wantErr: errBadRequest},
		{name: "object then array conflicts", target: "/x?a[b]=1&a[]=2", wantErr: errBadRequest},
		{name: "too deep", target: "/x?a" + strings.Repeat("[b]", maxParamDepth+1) + "=1", wantErr: errBadRequest},
		{name: "deep but allowed", target: "/x?a" + strings.Repeat("[b]", maxParamDepth-1) + "=1", want: nil},

		{name: "form body", target: "/x", ct: ctForm, body: "application_id=1&user[login]=j&user[guest]=1",
			want: params{"application_id": "1", "user": params{"login": "j", "guest": "1"}}},
		{name: "json body typed", target: "/x", ct: ctJSON, body: `{"application_id":1,"nonce":"7","ok":true,"n":null,"user":{"login":"j"},"tags":["a",2]}`,
			want: params{"application_id": json.Number("1"), "nonce": "7", "ok": true, "n": nil, "user": params{"login": "j"}, "tags": []any{"a", json.Number("2")}}},
		{name: "json literal bracket keys", target: "/x", ct: ctJSON, body: `{"provider":"firebase_phone","firebase_phone[project_id]":"p","firebase_phone[access_token]":"t"}`,
			want: params{"provider": "firebase_phone", "firebase_phone": params{"project_id": "p", "access_token": "t"}}},
		{name: "json nested and flat keys merge", target: "/x", ct: ctJSON, body: `{"user[email]":"e","user":{"login":"l"}}`,
			want: params{"user": params{"login": "l", "email": "e"}}},
		{name: "json flat array key", target: "/x", ct: ctJSON, body: `{"id[in][]":1,"id[in][]":2}`,
			want: params{"id": params{"in": []any{json.Number("1"), json.Number("2")}}}},
		{name: "json duplicate key: last wins", target: "/x", ct: ctJSON, body: `{"a":1,"a":2}`, want: params{"a": json.Number("2")}},
		{name: "json scalar/object conflict", target: "/x", ct: ctJSON, body: `{"user":"x","user[login]":"y"}`, wantErr: errBadRequest},
		{name: "json object/scalar conflict", target: "/x", ct: ctJSON, body: `{"user[login]":"y","user":"x"}`, wantErr: errBadRequest},
		{name: "json not an object", target: "/x", ct: ctJSON, body: `[1,2]`, wantErr: errBadRequest},
		{name: "json malformed", target: "/x", ct: ctJSON, body: `{"a":`, wantErr: errBadRequest},
		{name: "json trailing data", target: "/x", ct: ctJSON, body: `{"a":1} {"b":2}`, wantErr: errBadRequest},
		{name: "json too deep", target: "/x", ct: ctJSON, body: strings.Repeat(`{"a":`, maxParamDepth+2) + "1" + strings.Repeat("}", maxParamDepth+2), wantErr: errBadRequest},
		{name: "json empty key ignored", target: "/x", ct: ctJSON, body: `{"":1,"a":2}`, want: params{"a": json.Number("2")}},
		{name: "body overrides query", target: "/x?a=q&b=q", ct: ctJSON, body: `{"a":"body"}`, want: params{"a": "body", "b": "q"}},
		{name: "json sniffed without content type", target: "/x", body: `{"a":"1"}`, want: params{"a": "1"}},
		{name: "form sniffed with text/plain", target: "/x", ct: "text/plain", body: `a=1`, want: params{"a": "1"}},
		{name: "+json media type", target: "/x", ct: "application/vnd.api+json", body: `{"a":"1"}`, want: params{"a": "1"}},
		{name: "multipart refused", target: "/x", ct: "multipart/form-data; boundary=x", body: "--x--", wantErr: errBadRequest},
		{name: "whitespace body", target: "/x", ct: ctJSON, body: " \n ", want: params{}},
		{name: "too large", target: "/x", ct: ctForm, body: "a=" + strings.Repeat("x", 2000), wantErr: errTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReq("POST", tt.target, tt.ct, tt.body)
			got, err := decodeParams(httptest.NewRecorder(), r, 1024)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if len(tt.want) == 0 && len(got) == 0 {
				return
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestDecodeParamsCountLimit(t *testing.T) {
	body := strings.Repeat("a[]=1&", maxParamCount+1)
	r := newReq("POST", "/x", ctForm, body)
	_, err := decodeParams(httptest.NewRecorder(), r, 1<<20)
	if !errors.Is(err, errBadRequest) {
		t.Fatalf("err = %v, want errBadRequest", err)
	}
	body = "{" + strings.Repeat(`"a":1,`, maxParamCount) + `"b":1}`
	r = newReq("POST", "/x", ctJSON, body)
	if _, err = decodeParams(httptest.NewRecorder(), r, 1<<20); !errors.Is(err, errBadRequest) {
		t.Fatalf("json: err = %v, want errBadRequest", err)
	}
	body = strings.Repeat("a[]=1&", maxParamCount-1)
	r = newReq("POST", "/x", ctForm, body)
	if _, err = decodeParams(httptest.NewRecorder(), r, 1<<20); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
}

func TestDecodeParamsTooLargeWithoutContentLength(t *testing.T) {
	r := newReq("POST", "/x", ctJSON, `{"a":"`+strings.Repeat("x", 100)+`"}`)
	r.ContentLength = -1
	if _, err := decodeParams(httptest.NewRecorder(), r, 50); !errors.Is(err, errTooLarge) {
		t.Fatalf("err = %v, want errTooLarge", err)
	}
}

func TestScalarReaders(t *testing.T) {
	ints := []struct {
		in   any
		want int64
		ok   bool
	}{
		{json.Number("42"), 42, true},
		{"42", 42, true},
		{" 42 ", 42, true},
		{"42.0", 42, true},
		{json.Number("-7"), -7, true},
		{"4.2", 0, false},
		{"1e3", 0, false},
		{"", 0, false},
		{"abc", 0, false},
		{"99999999999999999999", 0, false},
		{true, 0, false},
		{nil, 0, false},
		{params{}, 0, false},
		{[]any{"1"}, 0, false},
		{".0", 0, false},
	}
	for _, tt := range ints {
		got, ok := asInt64(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("asInt64(%#v) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	bools := map[any]bool{"1": true, "true": true, " TRUE ": true, json.Number("1"): true, true: true,
		"0": false, "": false, false: false, json.Number("0"): false, "yes": false, nil: false}
	for in, want := range bools {
		if got := asBool(in); got != want {
			t.Errorf("asBool(%#v) = %v, want %v", in, got, want)
		}
	}
	if s, ok := asStrings([]any{"a", json.Number("2"), true}); !ok || !reflect.DeepEqual(s, []string{"a", "2", "true"}) {
		t.Errorf("asStrings(list) = %v, %v", s, ok)
	}
	if s, ok := asStrings("a,b"); !ok || !reflect.DeepEqual(s, []string{"a,b"}) {
		t.Errorf("asStrings(scalar) = %v, %v", s, ok)
	}
	if _, ok := asStrings([]any{params{}}); ok {
		t.Error("asStrings accepted an object element")
	}
	if _, ok := asString(params{}); ok {
		t.Error("asString accepted an object")
	}
}

func TestFlatten(t *testing.T) {
	p := params{
		"application_id": json.Number("1"),
		"auth_key":       "k",
		"signature":      "s",
		"user":           params{"login": "a b&c=d", "guest": true, "n": nil},
		"firebase_phone": params{"project_id": "p"},
		"list":           []any{"x", json.Number("2")},
	}
	want := map[string]string{
		"application_id":             "1",
		"auth_key":                   "k",
		"signature":                  "s",
		"user[login]":                "a b&c=d",
		"user[guest]":                "true",
		"user[n]":                    "",
		"firebase_phone[project_id]": "p",
		"list[0]":                    "x",
		"list[1]":                    "2",
	}
	if got := p.flatten(); !reflect.DeepEqual(got, want) {
		t.Fatalf("flatten = %#v\nwant %#v", got, want)
	}
}

// FuzzDecodeParams feeds arbitrary query strings and bodies to the decoder: it must never
// panic, must fail only with errBadRequest or errTooLarge, and what it returns must be
// readable by every accessor.
func FuzzDecodeParams(f *testing.F) {
	seeds := []struct{ q, ct, body string }{
		{"user[login]=john&id[in][]=1", ctForm, "a[][b]=1&a[][c]=2"},
		{"", ctJSON, `{"application_id":"1","user":{"login":"j","password":"p"},"firebase_phone[project_id]":"x"}`},
		{"a=%2c+b", "", `{"a":[1,{"b":null}],"c":true}`},
		{"x[y][z][]=1", "text/plain", "k=v&k[]=w"},
		{"", ctJSON, `{"a":{"b":{"c":[[[]]]}}}`},
		{"a[", ctForm, "]=1&[=2&a[]]=3"},
	}
	for _, s := range seeds {
		f.Add(s.q, s.ct, s.body)
	}
	f.Fuzz(func(t *testing.T, q, ct, body string) {
		r := httptest.NewRequest("POST", "/x", strings.NewReader(body))
		r.URL.RawQuery = q
		r.Header.Set("Content-Type", ct)
		p, err := decodeParams(httptest.NewRecorder(), r, 4096)
		if err != nil {
			if !errors.Is(err, errBadRequest) && !errors.Is(err, errTooLarge) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			if status, _, _ := renderError(err); status >= 500 {
				t.Fatalf("decoder error rendered as %d", status)
			}
			return
		}
		_ = p.flatten()
		f := fieldErrs{}
		readCredentials(f, p, p.object("user"))
		readUserInput(f, userObject(p))
		for k, v := range p {
			asString(v)
			asInt64(v)
			asBool(v)
			asStrings(v)
			p.object(k)
		}
	})
}
