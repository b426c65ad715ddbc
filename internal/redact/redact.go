// Package redact masks credentials in connection strings before they are
// printed or logged: the password of a URL's userinfo, sensitive query
// parameters (password=, sslpassword=, token=, ...), the same keys in a
// libpq "key=value" DSN, and any userinfo of a string that is not a URL at
// all. It errs towards masking too much: a printed setting is for a human
// checking which host is used, never for copying a secret out.
package redact

import (
	"errors"
	"net/url"
	"strings"
)

// Mask replaces a credential.
const Mask = "xxxxx"

// sensitive reports whether a parameter name may carry a secret.
func sensitive(key string) bool {
	k := strings.ToLower(key)
	for _, s := range []string{"pass", "pwd", "secret", "token", "key", "auth", "sig", "credential", "session"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// URL masks the credentials of a URL, a libpq key=value DSN or a
// host:port list entry. The empty string stays empty.
func URL(s string) string {
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "://") && strings.Contains(s, "=") {
		return dsn(s)
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Opaque != "" || !strings.Contains(s, "://") {
		return fallback(s)
	}
	if u.User != nil {
		_, hasPassword := u.User.Password()
		switch {
		case hasPassword:
			u.User = url.UserPassword(u.User.Username(), Mask)
		case u.Scheme == "postgres" || u.Scheme == "postgresql":
			// A PostgreSQL user name alone is an account, not a secret.
		default:
			// redis://secret@host and https://token@host put the secret
			// where the user name goes.
			u.User = url.User(Mask)
		}
	}
	u.RawQuery = query(u.RawQuery)
	if u.Fragment != "" {
		u.Fragment, u.RawFragment = Mask, ""
	}
	return u.String()
}

// query masks the values of sensitive parameters, keeping order and the
// rest of the encoding as it was.
func query(raw string) string {
	if raw == "" {
		return ""
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		k, _, hasValue := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if hasValue && sensitive(name) {
			parts[i] = k + "=" + Mask
		}
	}
	return strings.Join(parts, "&")
}

// dsn masks a libpq-style "host=db user=u password='a b'" string. Values
// may be single-quoted with backslash escapes.
func dsn(s string) string {
	var b strings.Builder
	i := 0
	for i < len(s) {
		// Copy spaces.
		for i < len(s) && s[i] == ' ' {
			b.WriteByte(s[i])
			i++
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' {
			i++
		}
		key := strings.TrimSpace(s[start:i])
		b.WriteString(s[start:i])
		// Spaces around '=' are allowed.
		for i < len(s) && s[i] == ' ' {
			b.WriteByte(s[i])
			i++
		}
		if i >= len(s) || s[i] != '=' {
			continue
		}
		b.WriteByte('=')
		i++
		for i < len(s) && s[i] == ' ' {
			b.WriteByte(s[i])
			i++
		}
		vstart := i
		if i < len(s) && s[i] == '\'' {
			i++
			for i < len(s) && s[i] != '\'' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			i = min(i+1, len(s))
		} else {
			for i < len(s) && s[i] != ' ' {
				i++
			}
		}
		if sensitive(key) {
			b.WriteString(Mask)
		} else {
			b.WriteString(s[vstart:i])
		}
	}
	return b.String()
}

// fallback handles what does not parse as a URL: anything before the last
// '@' may be credentials, and a query is masked as in a URL.
func fallback(s string) string {
	if at := strings.LastIndex(s, "@"); at >= 0 {
		prefix := ""
		if i := strings.Index(s, "://"); i >= 0 && i < at {
			prefix = s[:i+3]
		}
		s = prefix + Mask + s[at:]
	}
	if q := strings.IndexByte(s, '?'); q >= 0 {
		s = s[:q+1] + query(s[q+1:])
	}
	return s
}

// Err masks the URL carried by a *url.Error in err's chain (what an
// http.Client returns): net/http drops a userinfo password from it, but
// not a token in the query. It returns err. Call it before wrapping:
// fmt.Errorf renders the text of what it wraps at once.
func Err(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = URL(ue.URL)
	}
	return err
}
