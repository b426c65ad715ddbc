// Package ids makes the opaque prefixed identifiers of the API ("vis_...",
// "pay_..."). They are ULIDs: time-ordered, so keyset pagination over ids
// follows creation order, and 80 random bits make them unguessable.
package ids

import (
	"crypto/rand"
	"strings"
	"sync"
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

// entropy is monotonic within a millisecond, so ids made by one process
// sort in the order they were made (keyset pages and audit trails rely on
// it); across processes, order is by millisecond.
var (
	mu      sync.Mutex
	entropy = ulid.Monotonic(rand.Reader, 0)
)

// New returns prefix + "_" + a lower-case ULID.
func New(prefix string) string {
	mu.Lock()
	id, err := ulid.New(ulid.Timestamp(time.Now()), entropy)
	mu.Unlock()
	if err != nil {
		// The monotonic counter overflowed within one millisecond: fall
		// back to a fresh random id rather than fail.
		id = ulid.MustNew(ulid.Timestamp(time.Now()), rand.Reader)
	}
	return prefix + "_" + strings.ToLower(id.String())
}

// HasPrefix reports whether id looks like an id of that prefix.
func HasPrefix(id, prefix string) bool {
	rest, ok := strings.CutPrefix(id, prefix+"_")
	return ok && len(rest) == ulid.EncodedSize
}
