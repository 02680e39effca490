package identity

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// The rules for logins and emails are described in the package documentation (doc.go,
// "Logins and emails").

// maxMarks is the most combining marks allowed on one base character.
const maxMarks = 3

// nfkcFold returns the NFKC case-fold of s: NFKC, full Unicode case folding, lower case (case
// folding maps Cherokee to capitals, and back on a second pass), NFKC again (case mapping can
// undo normalization).
func nfkcFold(s string) string {
	return norm.NFKC.String(strings.ToLower(cases.Fold().String(norm.NFKC.String(s))))
}

// invisible reports whether r cannot be seen or is not a character at all: anything but a
// letter, mark, number, punctuation, symbol or space (that is, control, format, private-use,
// surrogate and unassigned code points, line and paragraph separators), and the
// default-ignorable letters and marks (Hangul fillers, variation selectors).
func invisible(r rune) bool {
	if !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs) {
		return true
	}
	return unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector) ||
		r == '\u2800' // braille pattern blank
}

// validIdentifier reports whether s (already NFKC) passes the character rules above; parts
// splits s into the runs that must each be written in one script.
func validIdentifier(s string, parts func(string) []string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if invisible(r) {
			return false
		}
	}
	if !validMarks(s) {
		return false
	}
	for _, p := range parts(s) {
		if !singleScript(p) {
			return false
		}
	}
	return true
}

// validMarks checks the combining marks of s in decomposed form.
func validMarks(s string) bool {
	marks := 0
	var prev rune
	base := false
	for _, r := range norm.NFD.String(s) {
		if !unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc) {
			marks, base = 0, !unicode.IsSpace(r)
			prev = r
			continue
		}
		marks++
		if !base || r == prev || marks > maxMarks {
			return false
		}
		prev = r
	}
	return true
}

// scriptOrder lists the scripts checked first: those of most logins.
var scriptOrder = []string{"Latin", "Cyrillic", "Greek", "Han", "Hiragana", "Katakana", "Hangul", "Arabic", "Hebrew"}

// scriptOf returns the script of r, "" for Common and Inherited characters (shared by every
// script) and for characters of no script.
func scriptOf(r rune) string {
	if r < utf8.RuneSelf && !unicode.IsLetter(r) {
		return ""
	}
	if unicode.In(r, unicode.Common, unicode.Inherited) {
		return ""
	}
	for _, name := range scriptOrder {
		if unicode.Is(unicode.Scripts[name], r) {
			return name
		}
	}
	for name, table := range unicode.Scripts {
		if unicode.Is(table, r) {
			return name
		}
	}
	return ""
}

// scriptSets are the combinations of scripts a single identifier may use besides one
// script alone (the "highly restrictive" level of Unicode Technical Standard #39).
var scriptSets = []map[string]bool{
	{"Latin": true, "Han": true, "Hiragana": true, "Katakana": true},
	{"Latin": true, "Han": true, "Hangul": true},
	{"Latin": true, "Han": true, "Bopomofo": true},
}

// singleScript reports whether the letters of s belong to one script or one of scriptSets.
func singleScript(s string) bool {
	used := map[string]bool{}
	for _, r := range s {
		if sc := scriptOf(r); sc != "" {
			used[sc] = true
		}
	}
	if len(used) <= 1 {
		return true
	}
	for _, set := range scriptSets {
		ok := true
		for sc := range used {
			ok = ok && set[sc]
		}
		if ok {
			return true
		}
	}
	return false
}

// wholeLogin is the parts function of logins: the login as a whole.
func wholeLogin(s string) []string { return []string{s} }

// emailParts splits an email into its local part's and domain's dot-separated labels.
func emailParts(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == '@' || r == '.' })
}
