package config

import (
	"net/url"
	"regexp"
	"strings"
)

// redactedMark replaces a hidden secret, as url.URL.Redacted does.
const redactedMark = "xxxxx"

// secretParams are query or keyword parameters of a database connection
// string that carry a secret.
var secretParams = []string{"password", "sslpassword", "passfile_password", "secret", "token", "sslkey_password"}

// keywordSecret matches "password=..." in a keyword/value connection
// string ("host=db user=app password='s e c'"), quoted or not.
var keywordSecret = regexp.MustCompile(`(?i)\b((?:ssl)?password|secret|token)\s*=\s*('(?:[^'\\]|\\.)*'?|\S*)`)

// RedactURL returns a database URL with its password (in the user info, in
// a password query parameter or in a keyword/value string) replaced by
// "xxxxx", safe to print and log. It never fails: a string that does not
// parse is redacted by pattern, and one with no recognisable structure
// after "://" has everything before its last "@" hidden.
func RedactURL(raw string) string {
	if raw == "" {
		return ""
	}
	if !strings.Contains(raw, "://") {
		out := keywordSecret.ReplaceAllString(raw, "${1}="+redactedMark)
		if strings.Contains(out, "=") || !strings.Contains(out, "@") {
			return out
		}
		// "user:pass@host" without a scheme: hide what precedes the "@".
		return strings.TrimPrefix(redactByPattern("://"+out), "://")
	}
	// A password with an unescaped "@", "/", "?" or "#" makes the parser
	// split the URL in the wrong place and expose part of the password as
	// host or path; only trust it when the single "@" really closes the
	// user info.
	ats := strings.Count(raw[strings.Index(raw, "://")+3:], "@")
	if u, err := url.Parse(raw); err == nil && u.Opaque == "" && (ats == 0 || (ats == 1 && u.User != nil)) {
		if u.User != nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), redactedMark)
			}
		}
		if u.RawQuery != "" {
			q := u.Query()
			changed := false
			for k := range q {
				if isSecretParam(k) {
					q[k] = []string{redactedMark}
					changed = true
				}
			}
			if changed {
				u.RawQuery = q.Encode()
			}
		}
		return u.String()
	}
	return redactByPattern(raw)
}

func isSecretParam(k string) bool {
	k = strings.ToLower(k)
	for _, s := range secretParams {
		if k == s {
			return true
		}
	}
	return strings.Contains(k, "password")
}

// redactByPattern hides the user info of a URL the parser rejects (often
// because the password holds a character that should have been escaped),
// and any secret query parameter.
func redactByPattern(raw string) string {
	i := strings.Index(raw, "://")
	scheme, rest := raw[:i+3], raw[i+3:]
	// The authority ends at the first "/", "?" or "#" after the last "@":
	// a password may itself contain "/" or "@", so search from the last "@".
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		user := rest[:at]
		if c := strings.IndexByte(user, ':'); c >= 0 {
			user = user[:c+1] + redactedMark
		} else {
			user = redactedMark
		}
		rest = user + rest[at:]
	}
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		params := strings.Split(rest[q+1:], "&")
		for n, p := range params {
			k, _, _ := strings.Cut(p, "=")
			if isSecretParam(k) {
				params[n] = k + "=" + redactedMark
			}
		}
		rest = rest[:q+1] + strings.Join(params, "&")
	}
	return scheme + rest
}
