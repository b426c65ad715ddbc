// Package console is the support console: the admin API as a server-rendered
// web application on the admin listener, under /console. Staff sign in with
// their staff token, which is exchanged for a server-side session; every page
// is html/template with plain forms, a small stylesheet and a little
// hand-written JavaScript (local times, copy buttons), all embedded.
//
// The console holds no business rules: reads and writes call the same
// domain services as the admin API (internal/httpapi), with the same role
// checks (auth.Role.Allows), the same audit records written in the domain
// transaction, and the same error messages (httpapi.Describe). Every write
// asks for a reason and shows what will happen before it is confirmed.
//
// Security: session ids come from crypto/rand and only their SHA-256 is
// stored (table console_sessions, so every replica shares them); the
// cookie is HttpOnly, SameSite=Strict and Secure over TLS; sessions end
// after an idle timeout; every form carries a CSRF token derived from the
// session; the Content-Security-Policy allows no inline script or style;
// and partner-supplied text is escaped, with bidi and zero-width
// characters shown as visible escapes such as <U+202E>.
package console

import (
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/inbound-gateway/inbound/internal/httpapi"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Options tune the console.
type Options struct {
	// IdleTimeout ends a session not used for this long (default 30 min).
	IdleTimeout time.Duration
	// MaxAge ends a session this long after sign-in whatever its use
	// (default 12 h).
	MaxAge time.Duration
}

// Console serves /console over an admin API server's services.
type Console struct {
	api   *httpapi.Server
	opt   Options
	log   *slog.Logger
	pages *pages
	mux   *http.ServeMux
}

// New builds the console over api (whose domain services it calls).
func New(api *httpapi.Server, o Options) (*Console, error) {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 30 * time.Minute
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 12 * time.Hour
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &Console{api: api, opt: o, log: api.Log, pages: p, mux: http.NewServeMux()}
	c.routes()
	return c, nil
}

func (c *Console) now() time.Time { return c.api.Now().UTC() }

func (c *Console) routes() {
	static, _ := fs.Sub(staticFiles, "static")
	c.mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	c.mux.HandleFunc("GET /console/signin", c.signinPage)
	c.mux.HandleFunc("POST /console/signin", c.signin)
	c.mux.HandleFunc("POST /console/signout", c.signedIn(c.signout))
	c.mux.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
	})
	c.mux.HandleFunc("GET /console/{$}", c.signedIn(c.home))
	c.mux.HandleFunc("GET /console/find", c.signedIn(c.find))
	c.mux.HandleFunc("GET /console/visitors/{id}", c.signedIn(c.visitor))
	c.mux.HandleFunc("GET /console/reviews", c.signedIn(c.reviews))
	c.mux.HandleFunc("GET /console/disputes", c.signedIn(c.disputes))
	c.mux.HandleFunc("GET /console/payments/{id}", c.signedIn(c.payment))
	c.mux.HandleFunc("GET /console/adjustments", c.signedIn(c.adjustments))
	c.mux.HandleFunc("GET /console/adjustments/{id}", c.signedIn(c.adjustment))
	c.mux.HandleFunc("GET /console/reconciliation", c.signedIn(c.reconciliation))
	c.mux.HandleFunc("POST /console/reconciliation", c.signedIn(c.runReconciliation))
	c.mux.HandleFunc("GET /console/audit", c.signedIn(c.auditLog))
	c.mux.HandleFunc("GET /console/audit.csv", c.signedIn(c.auditCSV))
	c.mux.HandleFunc("GET /console/webhooks", c.signedIn(c.webhooks))
	c.mux.HandleFunc("GET /console/webhooks/{id}", c.signedIn(c.webhookEndpoint))
	c.mux.HandleFunc("GET /console/jobs", c.signedIn(c.jobs))
	c.mux.HandleFunc("GET /console/staff", c.signedIn(c.staffPage))
	c.mux.HandleFunc("GET /console/act/{action}", c.signedIn(c.actionForm))
	c.mux.HandleFunc("POST /console/act/{action}", c.signedIn(c.act))
}

// ServeHTTP sets the security headers of every answer and routes.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if r.Method == http.MethodPost && !sameOrigin(r) {
		c.renderError(w, r, http.StatusForbidden, "This form was sent from another site and was refused.")
		return
	}
	c.mux.ServeHTTP(w, r)
}

// sameOrigin refuses a POST whose Origin names another host (browsers send
// Origin on every POST); a request without one, or with the opaque "null"
// of some privacy settings, is left to the CSRF token.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return true
	}
	return o == "http://"+r.Host || o == "https://"+r.Host
}
