package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/inbound-gateway/inbound/internal/auth"
)

const (
	sessionCookie = "inbound_console"
	// preCookie carries the CSRF token of the sign-in form, before there
	// is a session (double-submit: the cookie and the field must agree).
	preCookie = "inbound_console_pre"
)

type sessionRow struct {
	IDHash     string    `gorm:"column:id_hash;primaryKey"`
	StaffID    string    `gorm:"column:staff_id"`
	TokenHash  string    `gorm:"column:token_hash"`
	CreatedAt  time.Time `gorm:"column:created_at"`
	LastSeenAt time.Time `gorm:"column:last_seen_at"`
	ExpiresAt  time.Time `gorm:"column:expires_at"`
}

func (sessionRow) TableName() string { return "console_sessions" }

// session is the signed-in staff member of a request.
type session struct {
	staff auth.Staff
	id    string // the cookie value; only its hash is stored
}

// csrf is the session's CSRF token: an HMAC of a fixed label under the
// session id, so it needs no storage and reveals nothing of the id.
func (s session) csrf() string { return csrfFor(s.id) }

func csrfFor(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("inbound-console-csrf"))
	return hex.EncodeToString(m.Sum(nil))
}

func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	//nolint:gosec // Secure is set whenever the request came over TLS; the admin listener may be plain HTTP behind a TLS proxy or on localhost
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/console", MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

// startSession stores a new session for st, signed in with token, and
// sets its cookie.
func (c *Console) startSession(ctx context.Context, w http.ResponseWriter, r *http.Request, st auth.Staff, token string) error {
	id := randomID()
	now := c.now()
	row := sessionRow{IDHash: hashID(id), StaffID: st.ID, TokenHash: auth.Hash(token), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(c.opt.MaxAge)}
	if err := c.api.DB.WithContext(ctx).Create(&row).Error; err != nil {
		return fmt.Errorf("console: start session: %w", err)
	}
	c.setCookie(w, r, sessionCookie, id, 0)
	return nil
}

var errNoSession = errors.New("console: no session")

// currentSession returns the request's live session: the cookie names a
// stored session that is neither idle too long nor past its lifetime, of a
// staff member who is still active and still holds the token the session
// was opened with. A session that has lapsed is deleted.
func (c *Console) currentSession(ctx context.Context, r *http.Request) (session, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || len(ck.Value) != 64 {
		return session{}, errNoSession
	}
	row, found, err := c.sessionByHash(ctx, hashID(ck.Value))
	if err != nil {
		return session{}, err
	}
	if !found {
		return session{}, errNoSession
	}
	now := c.now()
	if now.After(row.ExpiresAt) || now.Sub(row.LastSeenAt) > c.opt.IdleTimeout {
		c.endSession(ctx, ck.Value)
		return session{}, errNoSession
	}
	st, ok, err := c.stillValid(ctx, row)
	if err != nil {
		return session{}, err
	}
	if !ok {
		c.endSession(ctx, ck.Value)
		return session{}, errNoSession
	}
	if now.Sub(row.LastSeenAt) > 15*time.Second {
		// Touch at most every few seconds: the idle timeout does not need
		// a write per request.
		if err := c.api.DB.WithContext(ctx).Model(&sessionRow{}).Where("id_hash = ?", row.IDHash).
			Update("last_seen_at", now).Error; err != nil {
			return session{}, fmt.Errorf("console: touch session: %w", err)
		}
	}
	return session{staff: st, id: ck.Value}, nil
}

// stillValid reads the session's staff member and reports whether the
// member is active and still holds the token the session was opened with:
// a rotation (console, API or CLI) or a disable ends the sessions.
func (c *Console) stillValid(ctx context.Context, row sessionRow) (auth.Staff, bool, error) {
	st, err := c.api.Auth.StaffMember(ctx, row.StaffID)
	if errors.Is(err, auth.ErrNotFound) {
		return auth.Staff{}, false, nil
	}
	if err != nil {
		return auth.Staff{}, false, err
	}
	if st.Status != "active" {
		return st, false, nil
	}
	n, err := c.count(ctx, "staff", "id = ? AND token_hash = ?", row.StaffID, row.TokenHash)
	return st, n == 1, err
}

func (c *Console) endSession(ctx context.Context, id string) {
	if err := c.api.DB.WithContext(ctx).Where("id_hash = ?", hashID(id)).Delete(&sessionRow{}).Error; err != nil {
		c.log.WarnContext(ctx, "console: end session", "err", err)
	}
}

// checkCSRF compares the form's token with the session's in constant time.
func checkCSRF(r *http.Request, want string) bool {
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// signedIn wraps a handler that needs a session: without one, a GET goes
// to the sign-in page and anything else is refused; every POST needs the
// session's CSRF token.
func (c *Console) signedIn(h func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := c.currentSession(r.Context(), r)
		if errors.Is(err, errNoSession) {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
				return
			}
			c.renderError(w, r, http.StatusUnauthorized, "Your session has ended. Sign in again.")
			return
		}
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if err := r.ParseForm(); err != nil || !checkCSRF(r, s.csrf()) {
				c.renderError(w, r, http.StatusForbidden, "The form's security token is missing or wrong. Reload the page and try again.")
				return
			}
		}
		h(w, r, s)
	}
}

func (c *Console) signinPage(w http.ResponseWriter, r *http.Request) {
	c.renderSignin(w, r, http.StatusOK, "")
}

func (c *Console) renderSignin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	pre := randomID()
	c.setCookie(w, r, preCookie, pre, 600)
	c.render(w, r, status, "signin", view{CSRF: csrfFor(pre), Title: "Sign in", Error: msg})
}

// signin exchanges a staff token for a session. The token is checked by
// auth.Service.AuthenticateStaff, as the admin API checks it.
func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if err := r.ParseForm(); err != nil {
		c.renderSignin(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	pre, err := r.Cookie(preCookie)
	if err != nil || !checkCSRF(r, csrfFor(pre.Value)) {
		c.renderError(w, r, http.StatusForbidden, "The form's security token is missing or wrong. Reload the page and try again.")
		return
	}
	st, err := c.api.Auth.AuthenticateStaff(r.Context(), r.PostFormValue("token"))
	if errors.Is(err, auth.ErrUnauthenticated) {
		c.log.InfoContext(r.Context(), "console: sign-in refused", "remote", r.RemoteAddr)
		c.renderSignin(w, r, http.StatusUnauthorized, "That staff token is not valid. Check it and try again.")
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if old, err := r.Cookie(sessionCookie); err == nil {
		c.endSession(r.Context(), old.Value)
	}
	if err := c.startSession(r.Context(), w, r, st, r.PostFormValue("token")); err != nil {
		c.fail(w, r, err)
		return
	}
	c.setCookie(w, r, preCookie, "", -1)
	c.log.InfoContext(r.Context(), "console: signed in", "staff", st.ID)
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

func (c *Console) signout(w http.ResponseWriter, r *http.Request, s session) {
	c.endSession(r.Context(), s.id)
	c.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/console/signin?signed_out=1", http.StatusSeeOther)
}
