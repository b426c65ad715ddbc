// Package webhook tells partners about state changes. Domain code calls
// Emit inside the transaction of the change (a transactional outbox): the
// event and one delivery per subscribed endpoint commit with the change or
// not at all. A dispatcher on every replica claims due deliveries with
// SKIP LOCKED, POSTs them signed with HMAC-SHA256, records every attempt
// and retries with exponential backoff for about 24 hours. Delivery is at
// least once; receivers dedupe by event id.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Event types of API.md §2 Webhooks.
var EventTypes = []string{
	"visitor.approved", "visitor.review", "visitor.rejected",
	"card.verified", "card.failed",
	"load.succeeded", "load.failed",
	"payment.held", "payment.released", "payment.refunded", "payment.disputed",
	"unload.succeeded",
	"account.frozen", "account.unfrozen", "account.expired",
}

// Errors of the package.
var (
	ErrInvalidURL      = errors.New("webhook: url must be an absolute http(s) URL")
	ErrPrivateURL      = errors.New("webhook: url resolves to a private, loopback or link-local address")
	ErrInvalidEvents   = errors.New("webhook: events must be known event types or \"*\"")
	ErrNotFound        = errors.New("webhook: endpoint not found")
	ErrTooManyEndpoint = errors.New("webhook: at most 16 endpoints per partner")
)

// MaxEndpoints bounds a partner's endpoints (fan-out per event).
const MaxEndpoints = 16

// Endpoint is where a partner receives events.
type Endpoint struct {
	ID          string    `json:"id"`
	PartnerID   string    `json:"-"`
	URL         string    `json:"url"`
	Events      []string  `json:"events"`
	Description string    `json:"description,omitempty"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
}

// Subscribes reports whether the endpoint wants events of type t.
func (e Endpoint) Subscribes(t string) bool {
	return slices.Contains(e.Events, "*") || slices.Contains(e.Events, t)
}

// ValidateEvents checks a subscription list.
func ValidateEvents(events []string) error {
	if len(events) == 0 {
		return ErrInvalidEvents
	}
	for _, e := range events {
		if e != "*" && !slices.Contains(EventTypes, e) {
			return fmt.Errorf("%w: %q", ErrInvalidEvents, e)
		}
	}
	return nil
}

// Sign returns the Inbound-Signature header value for body at time t:
// "t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>".
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature header against body, refusing timestamps more
// than tolerance away from now (replays). Receivers can copy it.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) bool {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	t := time.Unix(sec, 0)
	if now.Sub(t) > tolerance || t.Sub(now) > tolerance {
		return false
	}
	want := Sign(secret, t, body)
	_, wantSig, _ := strings.Cut(want, ",v1=")
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(wantSig)) {
			return true
		}
	}
	return false
}

// Backoff is the delay before attempt n+1 after n failed attempts: about
// 24 hours in all, then the delivery is given up.
var Backoff = []time.Duration{
	time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 8 * time.Hour,
}

// CheckURL validates an endpoint URL. Unless allowPrivate, the host must not
// be or resolve to a loopback, private, link-local, unspecified or
// multicast address (SSRF): the dispatcher checks again at dial time, since
// DNS answers can change.
func CheckURL(ctx context.Context, raw string, allowPrivate bool, resolver *net.Resolver) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || len(raw) > 2048 {
		return ErrInvalidURL
	}
	if allowPrivate {
		return nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if !publicAddr(ip) {
			return ErrPrivateURL
		}
		return nil
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return ErrPrivateURL
	}
	addrs, err := resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		// An unresolvable host is refused now rather than retried for a day.
		return fmt.Errorf("%w: host does not resolve", ErrInvalidURL)
	}
	for _, a := range addrs {
		if !publicAddr(a) {
			return ErrPrivateURL
		}
	}
	return nil
}

func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsValid() && !ip.IsLoopback() && !ip.IsPrivate() && !ip.IsLinkLocalUnicast() &&
		!ip.IsLinkLocalMulticast() && !ip.IsUnspecified() && !ip.IsMulticast() && !ip.IsInterfaceLocalMulticast() &&
		!sharedOrReserved(ip)
}

var reserved = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64 can reach IPv4 private space
}

func sharedOrReserved(ip netip.Addr) bool {
	for _, p := range reserved {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// dialControl refuses connections to non-public addresses at dial time.
func dialControl(allowPrivate bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		if allowPrivate {
			return nil
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !publicAddr(ap.Addr()) {
			return ErrPrivateURL
		}
		return nil
	}
}
