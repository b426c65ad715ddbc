package webhook_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/inbound-gateway/inbound/internal/webhook"
)

// TestSSRFAddressTable runs every special-purpose range through both checks
// (CheckURL at creation, the dialer's control at delivery time): only
// public global unicast passes, IPv6 transition addresses are refused even
// when the IPv4 address they embed is public, and the private-targets
// setting still lets everything through.
func TestSSRFAddressTable(t *testing.T) {
	cases := []struct {
		name   string
		addr   string
		public bool
	}{
		{"public v4", "8.8.8.8", true},
		{"public v4 2", "1.1.1.1", true},
		{"public v6", "2606:4700:4700::1111", true},
		{"public v6 google", "2001:4860:4860::8888", true},
		{"ipv4-mapped public", "::ffff:8.8.8.8", true},

		{"v4 loopback", "127.0.0.1", false},
		{"v4 private 10", "10.0.0.1", false},
		{"v4 private 172", "172.16.5.4", false},
		{"v4 private 192", "192.168.1.1", false},
		{"v4 link-local", "169.254.169.254", false},
		{"v4 cgnat", "100.64.0.1", false},
		{"v4 unspecified", "0.0.0.0", false},
		{"v4 this network", "0.1.2.3", false},
		{"v4 broadcast", "255.255.255.255", false},
		{"v4 multicast", "224.0.0.1", false},
		{"v4 reserved", "240.0.0.1", false},
		{"v4 test-net-1", "192.0.2.1", false},
		{"v4 test-net-2", "198.51.100.1", false},
		{"v4 test-net-3", "203.0.113.1", false},
		{"v4 benchmarking", "198.18.0.1", false},
		{"v4 ietf protocol", "192.0.0.8", false},
		{"v4 6to4 relay anycast", "192.88.99.1", false},

		{"v6 loopback", "::1", false},
		{"v6 unspecified", "::", false},
		{"v6 link-local", "fe80::1", false},
		{"v6 unique-local fc", "fc00::1", false},
		{"v6 unique-local fd", "fd12:3456::1", false},
		{"v6 site-local", "fec0::1", false},
		{"v6 site-local end", "feff::1", false},
		{"v6 multicast", "ff02::1", false},
		{"v6 multicast global", "ff0e::1", false},
		{"v6 documentation", "2001:db8::1", false},
		{"v6 documentation 3fff", "3fff::1", false},
		{"v6 outside 2000::/3", "4000::1", false},
		{"v6 discard", "100::1", false},

		{"ipv4-mapped loopback", "::ffff:127.0.0.1", false},
		{"ipv4-mapped private", "::ffff:10.0.0.1", false},
		{"ipv4-mapped metadata", "::ffff:169.254.169.254", false},
		{"ipv4-compatible loopback", "::127.0.0.1", false},
		{"ipv4-compatible private", "::10.0.0.1", false},
		{"ipv4-compatible public", "::8.8.8.8", false},
		{"ipv4-translated", "::ffff:0:10.0.0.1", false},
		{"nat64 private", "64:ff9b::10.0.0.1", false},
		{"nat64 loopback", "64:ff9b::127.0.0.1", false},
		{"nat64 public", "64:ff9b::8.8.8.8", false},
		{"nat64 local-use private", "64:ff9b:1::a00:1", false},
		{"nat64 local-use public", "64:ff9b:1::808:808", false},
		{"6to4 private", "2002:0a00:0001::1", false},
		{"6to4 loopback", "2002:7f00:0001::1", false},
		{"6to4 public", "2002:0808:0808::1", false},
		{"teredo private server", "2001:0:0a00:0001::1", false},
		{"teredo public", "2001:0:4136:e378:8000:63bf:3fff:fdd2", false},
		{"ietf protocol assignments", "2001:2::1", false},
		{"orchid v2", "2001:20::1", false},
	}
	ctx := context.Background()
	strict := webhook.DialControl(false)
	open := webhook.DialControl(true)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ip := netip.MustParseAddr(tc.addr)
			host := tc.addr
			if ip.Is6() {
				host = "[" + tc.addr + "]"
			}
			err := webhook.CheckURL(ctx, "https://"+host+"/hook", false, net.DefaultResolver)
			if tc.public && err != nil {
				t.Errorf("CheckURL refused public %s: %v", tc.addr, err)
			}
			if !tc.public && !errors.Is(err, webhook.ErrPrivateURL) {
				t.Errorf("CheckURL accepted %s: %v", tc.addr, err)
			}
			derr := strict("tcp", netip.AddrPortFrom(ip, 443).String(), nil)
			if tc.public && derr != nil {
				t.Errorf("dial refused public %s: %v", tc.addr, derr)
			}
			if !tc.public && !errors.Is(derr, webhook.ErrPrivateURL) {
				t.Errorf("dial accepted %s: %v", tc.addr, derr)
			}
			// The private-targets setting (INBOUND_WEBHOOK_ALLOW_PRIVATE)
			// still allows everything.
			if err := webhook.CheckURL(ctx, "https://"+host+"/hook", true, net.DefaultResolver); err != nil {
				t.Errorf("allow-private CheckURL refused %s: %v", tc.addr, err)
			}
			if err := open("tcp", netip.AddrPortFrom(ip, 443).String(), nil); err != nil {
				t.Errorf("allow-private dial refused %s: %v", tc.addr, err)
			}
		})
	}
}

// TestSSRFZonedAddressRefused: a scoped address names an interface, never a
// public target.
func TestSSRFZonedAddressRefused(t *testing.T) {
	if err := webhook.DialControl(false)("tcp", "[2606:4700:4700::1111%eth0]:443", nil); !errors.Is(err, webhook.ErrPrivateURL) {
		t.Fatalf("zoned address: %v", err)
	}
}
