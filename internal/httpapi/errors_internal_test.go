package httpapi

import (
	"fmt"
	"testing"

	"github.com/inbound-gateway/inbound/gateway"
)

// TestCatalogueMessageByDefault: a mapped sentinel shows the catalogue's
// message (or the mapping's own), never the sentinel's operator text nor
// the wrapped context.
func TestCatalogueMessageByDefault(t *testing.T) {
	for _, m := range errorTable {
		e, known := toAPIError(fmt.Errorf("internal context pay_secret: %w", m.err))
		want := catalogue[m.code].message
		if m.message != "" {
			want = m.message
		}
		if !known || e.Code != m.code || e.Message != want {
			t.Errorf("%v: %s %q, want %s %q", m.err, e.Code, e.Message, m.code, want)
		}
	}
}

// TestNetworkOutageIs503: a card network that cannot be reached (outside
// a payment, where it is a decline) is 503 service_unavailable, which
// Server.fail answers with Retry-After; never a 500.
func TestNetworkOutageIs503(t *testing.T) {
	for _, err := range []error{gateway.ErrUnavailable, gateway.ErrCircuitOpen, gateway.ErrTimeout} {
		e, known := toAPIError(fmt.Errorf("gateway: echo visa: %w", err))
		if !known || e.Status != 503 || e.Code != CodeServiceUnavailable || e.Message != catalogue[CodeServiceUnavailable].message {
			t.Errorf("%v: %d %s %q", err, e.Status, e.Code, e.Message)
		}
	}
}
