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

// Event types of docs/API.md (Webhooks).
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
	ErrPrivateURL      = errors.New("webhook: url resolves to an address that is not public unicast")
	ErrInvalidEvents   = errors.New("webhook: events must be known event types or \"*\"")
	ErrNotFound        = errors.New("webhook: endpoint not found")
	ErrTooManyEndpoint = errors.New("webhook: at most 16 endpoints per partner")
	// ErrDeliveryNotFound is a delivery id that does not exist.
	ErrDeliveryNotFound = errors.New("webhook: delivery not found")
	// ErrDeliveryNotFailed is a redelivery of a delivery that has not
	// failed (it is pending, succeeded or cancelled) or whose endpoint is
	// no longer enabled.
	ErrDeliveryNotFailed = errors.New("webhook: only a failed delivery to an enabled endpoint can be retried")
	// ErrHostUnresolvable is an endpoint URL whose host has no address in
	// DNS (it is an ErrInvalidURL too).
	ErrHostUnresolvable = fmt.Errorf("%w: host does not resolve", ErrInvalidURL)
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

// CheckURL validates an endpoint URL. Unless allowPrivate, the host must be
// or resolve only to public unicast addresses (see publicAddr; SSRF): the
// dispatcher checks again at dial time, since DNS answers can change.
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
		return fmt.Errorf("%w: %s", ErrHostUnresolvable, host)
	}
	for _, a := range addrs {
		if !publicAddr(a) {
			return ErrPrivateURL
		}
	}
	return nil
}

// publicAddr reports whether ip is a public unicast address a webhook may
// be delivered to. It is an allowlist: IPv4 must be outside every
// special-purpose block, IPv6 must be global unicast (2000::/3) outside the
// special-purpose blocks. An IPv4-mapped address (::ffff:a.b.c.d) is the
// IPv4 address itself and is judged as such. Transition addresses that
// embed an IPv4 address (NAT64, 6to4, Teredo, IPv4-compatible) are always
// refused: the embedded address is unwrapped and must be public too, but
// even then a relay or translator we do not control would carry the
// request, and no webhook receiver needs one, so refusing is the safe side.
func publicAddr(ip netip.Addr) bool {
	return addrProblem(ip) == ""
}

// addrProblem says why ip is not a public target, or "" when it is.
func addrProblem(ip netip.Addr) string {
	if !ip.IsValid() {
		return "invalid address"
	}
	if ip.Zone() != "" {
		return "scoped address"
	}
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	if ip.IsLoopback() || ip.IsUnspecified() {
		return "loopback or unspecified address"
	}
	if ip.Is4() {
		for _, p := range specialV4 {
			if p.Contains(ip) {
				return "special-purpose IPv4 " + p.String()
			}
		}
		return ""
	}
	for _, t := range transitionV6 {
		if t.prefix.Contains(ip) {
			if v4, ok := t.embedded(ip); ok && addrProblem(v4) != "" {
				return "IPv6 transition address " + t.prefix.String() + " embedding non-public " + v4.String()
			}
			return "IPv6 transition address " + t.prefix.String()
		}
	}
	if !globalUnicastV6.Contains(ip) {
		return "IPv6 outside global unicast 2000::/3"
	}
	for _, p := range specialV6 {
		if p.Contains(ip) {
			return "special-purpose IPv6 " + p.String()
		}
	}
	return ""
}

// specialV4 are the IANA IPv4 special-purpose blocks that are not
// globally reachable unicast (RFC 6890 and its updates).
var specialV4 = prefixes(
	"0.0.0.0/8",       // this network
	"10.0.0.0/8",      // private
	"100.64.0.0/10",   // carrier-grade NAT
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link-local (cloud metadata)
	"172.16.0.0/12",   // private
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // documentation TEST-NET-1
	"192.88.99.0/24",  // 6to4 relay anycast (deprecated)
	"192.168.0.0/16",  // private
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // documentation TEST-NET-2
	"203.0.113.0/24",  // documentation TEST-NET-3
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, and 255.255.255.255 broadcast
)

var globalUnicastV6 = netip.MustParsePrefix("2000::/3")

// specialV6 are the special-purpose blocks inside 2000::/3 that are not a
// public receiver (the transition ranges are handled apart).
var specialV6 = prefixes(
	"2001::/23",     // IETF protocol assignments (Teredo, benchmarking, ORCHID, ...)
	"2001:db8::/32", // documentation
	"3fff::/20",     // documentation (RFC 9637)
)

// transition is an IPv6 range that carries an IPv4 address inside.
type transition struct {
	prefix   netip.Prefix
	embedded func(netip.Addr) (netip.Addr, bool)
}

var transitionV6 = []transition{
	{netip.MustParsePrefix("64:ff9b::/96"), lastFour},   // NAT64 well-known prefix (RFC 6052)
	{netip.MustParsePrefix("64:ff9b:1::/48"), lastFour}, // NAT64 local-use prefix (RFC 8215)
	{netip.MustParsePrefix("2002::/16"), func(ip netip.Addr) (netip.Addr, bool) { // 6to4 (RFC 3056)
		b := ip.As16()
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	}},
	{netip.MustParsePrefix("2001::/32"), func(ip netip.Addr) (netip.Addr, bool) { // Teredo (RFC 4380): server, and client obfuscated
		b := ip.As16()
		return netip.AddrFrom4([4]byte{b[4], b[5], b[6], b[7]}), true
	}},
	{netip.MustParsePrefix("::ffff:0:0:0/96"), lastFour}, // IPv4-translated (RFC 2765)
	{netip.MustParsePrefix("::/96"), lastFour},           // IPv4-compatible (deprecated), also :: and ::1
}

func lastFour(ip netip.Addr) (netip.Addr, bool) {
	b := ip.As16()
	return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
}

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// dialControl refuses connections to non-public addresses at dial time.
func dialControl(allowPrivate bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		if allowPrivate {
			return nil
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return ErrPrivateURL
		}
		if why := addrProblem(ap.Addr()); why != "" {
			return fmt.Errorf("%w: %s", ErrPrivateURL, why)
		}
		return nil
	}
}
