package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/httpapi"
	"github.com/inbound-gateway/inbound/internal/money"
)

// view is what every page template sees.
type view struct {
	Title string
	Staff auth.Staff
	CSRF  string
	// Error is a message for the whole page; FieldErrors are beside fields.
	Error       string
	FieldErrors map[string]string
	// Flash reports the action just done.
	Flash string
	Data  any
}

// Can reports whether the signed-in member holds role or a higher one, so
// templates show only the actions the server would accept.
func (v view) Can(role string) bool {
	r, err := auth.ParseRole(role)
	return err == nil && v.Staff.Role.Allows(r)
}

type pages struct{ set map[string]*template.Template }

var funcs = template.FuncMap{
	"v":         visible,
	"cny":       formatAmount,
	"utc":       formatUTC,
	"iso":       func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"age":       age,
	"join":      strings.Join,
	"ptime":     func(t *time.Time) time.Time { return derefTime(t) },
	"list":      func(s ...string) []string { return s },
	"hasPrefix": strings.HasPrefix,
	"visitorOf": func(code string) string { return strings.TrimSuffix(strings.TrimPrefix(code, "visitor:"), ":prepaid") },
	"linkify":   linkify,
	"dict":      func(errs map[string]string, name string) fieldRef { return fieldRef{Errs: errs, Name: name} },
}

// fieldRef is what the "ferr" template needs: the form's errors and the
// field whose error to show.
type fieldRef struct {
	Errs map[string]string
	Name string
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// parsePages parses each page template with the shared layout.
func parsePages() (*pages, error) {
	base, err := template.New("").Funcs(funcs).ParseFS(templateFiles, "templates/_*.html")
	if err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	names, err := fs.Glob(templateFiles, "templates/[a-z]*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{set: map[string]*template.Template{}}
	for _, n := range names {
		t, err := template.Must(base.Clone()).ParseFS(templateFiles, n)
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", n, err)
		}
		p.set[strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")] = t
	}
	return p, nil
}

// render writes page name inside the layout. The page is rendered into a
// buffer first, so a template error never leaves half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	t, ok := c.pages.set[name]
	if !ok {
		c.fail(w, r, fmt.Errorf("console: no template %q", name))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		c.log.ErrorContext(r.Context(), "console: render", "page", name, "err", err)
		http.Error(w, "The page could not be shown.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (c *Console) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	v := view{Title: http.StatusText(status), Error: msg}
	if s, err := c.currentSession(r.Context(), r); err == nil {
		v.Staff, v.CSRF = s.staff, s.csrf()
	}
	c.render(w, r, status, "error", v)
}

// fail shows a domain error as the admin API would describe it; errors
// that are not the client's are logged and shown without detail.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code, _, msg := httpapi.Describe(err)
	if status >= 500 {
		if code == "service_unavailable" {
			w.Header().Set("Retry-After", "2")
			c.log.WarnContext(r.Context(), "console: dependency unavailable", "err", err)
		} else {
			c.log.ErrorContext(r.Context(), "console: request failed", "err", err, "path", r.URL.Path)
		}
	}
	c.renderError(w, r, status, msg)
}

// visible makes text from partners safe to read: characters that change
// the direction of text or are invisible (bidi controls, zero-width
// characters, other format and control characters) are replaced by a
// visible escape such as <U+202E>. html/template then escapes the result.
func visible(s string) string {
	if !strings.ContainsFunc(s, hidden) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if hidden(r) {
			fmt.Fprintf(&b, "<U+%04X>", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func hidden(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case r == unicode.ReplacementChar:
		return true
	case unicode.Is(unicode.Cf, r), unicode.IsControl(r), unicode.Is(unicode.Zl, r), unicode.Is(unicode.Zp, r):
		return true
	}
	return false
}

var objectID = regexp.MustCompile(`\b(pay|vis|adj|load|unl|rev)_[0-9a-z]{26}\b`)

// linkify escapes text (after making hidden characters visible) and turns
// the object ids in it into links to their console pages.
func linkify(s string) template.HTML {
	s = visible(s)
	var b strings.Builder
	last := 0
	for _, m := range objectID.FindAllStringSubmatchIndex(s, -1) {
		b.WriteString(template.HTMLEscapeString(s[last:m[0]]))
		id := s[m[0]:m[1]]
		b.WriteString(`<a href="` + objectURL(s[m[2]:m[3]], id) + `">` + id + `</a>`)
		last = m[1]
	}
	b.WriteString(template.HTMLEscapeString(s[last:]))
	return template.HTML(b.String()) //nolint:gosec // every part is escaped above; ids match [0-9a-z_] only
}

func objectURL(kind, id string) string {
	switch kind {
	case "pay":
		return "/console/payments/" + id
	case "vis":
		return "/console/visitors/" + id
	case "adj":
		return "/console/adjustments/" + id
	}
	return "/console/audit?target=" + id
}

// formatAmount writes an amount with its currency code and exactly its
// minor digits ("CNY 12.50").
func formatAmount(a money.Amount) string {
	if a.Currency().IsZero() {
		return "CNY 0.00"
	}
	return a.Currency().Code() + " " + a.Value()
}

func formatUTC(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

// age is a short duration since t, for queues ("3d 4h", "12m").
func age(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "<1m"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd %dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

// paramed names the form field an error is about (as httpapi's withParam).
type paramed struct {
	err   error
	param string
}

func (p paramed) Error() string     { return p.err.Error() }
func (p paramed) Unwrap() error     { return p.err }
func (p paramed) ParamName() string { return p.param }

func withParam(err error, param string) error {
	if err == nil {
		return nil
	}
	return paramed{err: err, param: param}
}
