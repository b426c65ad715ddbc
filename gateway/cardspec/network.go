// Package cardspec holds the card rules that both sides of a card network
// share, as plain Go with nothing but the standard library: which network a
// PAN belongs to (IIN ranges, length, Luhn), CVC and expiry checks, the ISO
// 8583 message type indicators, the field 39 response codes and the daily
// settlement report (GET /v1/settlement).
//
// It is a leaf so that the cardnet simulator, which partners may run on
// their own, needs none of the gateway's storage stack; package gateway
// re-exports every name, so the gateway's code and its callers are
// unchanged.
package cardspec

import (
	"errors"
	"fmt"
)

// Errors of the card rules. They are wrapped with details (never the PAN)
// and are matched with errors.Is.
var (
	ErrIncorrectNumber    = errors.New("gateway: incorrect card number")
	ErrUnsupportedNetwork = errors.New("gateway: unsupported card network")
	ErrInvalidCVC         = errors.New("gateway: invalid CVC")
	ErrInvalidExpiry      = errors.New("gateway: invalid expiry date")
)

// Network is a card network Inbound accepts. It is a struct with an
// unexported field so that no value outside the five below can exist; the
// zero Network means "none".
type Network struct {
	slug string
}

// The card networks Inbound accepts.
var (
	Visa       = Network{"visa"}
	Mastercard = Network{"mastercard"}
	Amex       = Network{"amex"}
	Discover   = Network{"discover"}
	JCB        = Network{"jcb"}
)

// Networks returns every accepted network, in a fixed order.
func Networks() []Network {
	return []Network{Visa, Mastercard, Amex, Discover, JCB}
}

// ParseNetwork returns the network with the given slug ("visa",
// "mastercard", "amex", "discover", "jcb").
func ParseNetwork(s string) (Network, error) {
	for _, n := range Networks() {
		if n.slug == s {
			return n, nil
		}
	}
	return Network{}, fmt.Errorf("%w: %q", ErrUnsupportedNetwork, s)
}

// String is the lower-case slug used in the API and on the wire.
func (n Network) String() string { return n.slug }

// IsZero reports whether n is the zero Network.
func (n Network) IsZero() bool { return n.slug == "" }

// CVCLength is the number of CVC digits cards of this network carry: the
// four-digit CID printed on the front of an Amex card, three elsewhere.
func (n Network) CVCLength() int {
	if n == Amex {
		return 4
	}
	return 3
}

// MarshalText writes the slug, so a Network is a plain string in JSON.
func (n Network) MarshalText() ([]byte, error) {
	if n.IsZero() {
		return nil, fmt.Errorf("%w: zero network", ErrUnsupportedNetwork)
	}
	return []byte(n.slug), nil
}

// UnmarshalText reads a slug and refuses anything that is not a network.
func (n *Network) UnmarshalText(b []byte) error {
	p, err := ParseNetwork(string(b))
	if err != nil {
		return err
	}
	*n = p
	return nil
}
