package auth

import (
	_ "embed"
	"strings"
	"unicode"
	"unicode/utf8"

	"opendata/errs"
)

// The password policy, applied on every path that sets a password (sign-up,
// user creation by an admin, opendata user create and passwd).
const (
	MinPasswordChars = 10
	MaxPasswordChars = 128
	// MaxPasswordBytes is checked before anything else touches the password
	// (four bytes per character at most), so a huge one costs nothing.
	MaxPasswordBytes = 4 * MaxPasswordChars
	// minDistinct refuses "aaaaaaaaaa" and "ababababab".
	minDistinct = 3
)

// Message keys of the policy's refusals (the field error's text; rendered in
// the reader's language where it is shown).
const (
	MsgPasswordShort    = "auth.password.short"
	MsgPasswordLong     = "auth.password.long"
	MsgPasswordRepeated = "auth.password.repeated"
	MsgPasswordUsername = "auth.password.username"
	MsgPasswordCommon   = "auth.password.common"
)

//go:embed common_passwords.txt
var commonList string

var common = func() map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(commonList, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			m[l] = true
		}
	}
	return m
}()

// PasswordTooLong reports whether pw is over the cap; callers check it
// before hashing, so a megabyte password is refused without work.
func PasswordTooLong(pw string) bool {
	return len(pw) > MaxPasswordBytes || utf8.RuneCountInString(pw) > MaxPasswordChars
}

// ValidatePassword applies the policy to a new password for username: 10 to
// 128 characters, at least three different characters, not the username
// or an e-mail's local part (nor containing one of 4 characters or more),
// and not one of the
// commonly used passwords (nor one of them followed by digits and
// punctuation, as in "password2024!"). The error is a FieldErrors on
// "password" whose text is a message key.
func ValidatePassword(username, pw string) error {
	msg := passwordProblem(username, pw)
	if msg == "" {
		return nil
	}
	return errs.FieldErrors{"password": msg}
}

func passwordProblem(username, pw string) string {
	if PasswordTooLong(pw) {
		return MsgPasswordLong
	}
	if utf8.RuneCountInString(pw) < MinPasswordChars {
		return MsgPasswordShort
	}
	lower := strings.ToLower(pw)
	distinct := map[rune]bool{}
	for _, r := range lower {
		distinct[r] = true
	}
	if len(distinct) < minDistinct {
		return MsgPasswordRepeated
	}
	for _, name := range namesOf(username) {
		// Short names only as the whole password ("dev" is in "developer").
		if lower == name || (utf8.RuneCountInString(name) >= 4 && strings.Contains(lower, name)) {
			return MsgPasswordUsername
		}
	}
	if common[lower] {
		return MsgPasswordCommon
	}
	stem := strings.TrimRightFunc(lower, func(r rune) bool { return unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) })
	if utf8.RuneCountInString(stem) >= 4 && common[stem] {
		return MsgPasswordCommon
	}
	return ""
}

// namesOf is what of a username a password must not contain: the whole
// name and, for an e-mail address, its local part (when 3 characters or more).
func namesOf(username string) []string {
	u := strings.ToLower(strings.TrimSpace(username))
	if utf8.RuneCountInString(u) < 3 {
		return nil
	}
	out := []string{u}
	if local, _, ok := strings.Cut(u, "@"); ok && utf8.RuneCountInString(local) >= 3 {
		out = append(out, local)
	}
	return out
}
