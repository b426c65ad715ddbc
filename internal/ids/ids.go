// Package ids makes the opaque prefixed identifiers of the API ("vis_...",
// "pay_..."). They are ULIDs: time-ordered, so keyset pagination over ids
// follows creation order, and 80 random bits make them unguessable.
package ids

import (
	"crypto/rand"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// Prefixes of the API's object ids.
const (
	Visitor         = "vis"
	Card            = "card"
	Quote           = "quo"
	Load            = "load"
	Account         = "acct"
	Merchant        = "mer"
	Payment         = "pay"
	Refund          = "rfd"
	Unload          = "unl"
	Event           = "evt"
	WebhookEndpoint = "we"
	Review          = "rev"
	Adjustment      = "adj"
	Staff           = "stf"
	Partner         = "ptn"
	Request         = "req"
	Key             = "key"
	Audit           = "aud"
	Transfer        = "trf"
	NetworkCall     = "ncl"
)

// New returns prefix + "_" + a lower-case ULID.
func New(prefix string) string {
	id := ulid.MustNew(ulid.Timestamp(time.Now()), rand.Reader)
	return prefix + "_" + strings.ToLower(id.String())
}

// HasPrefix reports whether id looks like an id of that prefix.
func HasPrefix(id, prefix string) bool {
	rest, ok := strings.CutPrefix(id, prefix+"_")
	return ok && len(rest) == ulid.EncodedSize
}
