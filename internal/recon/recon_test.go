package recon

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/inbound-gateway/inbound/gateway/cardspec"
)

func TestNetworkSideNetsReversals(t *testing.T) {
	r := cardspec.SettlementReport{Groups: []cardspec.SettlementGroup{{Network: "visa", Currency: "USD", Lines: []cardspec.SettlementLine{
		{Type: cardspec.LineCapture, Network: "visa", STAN: "1", RRN: "A", Amount: "1000", Currency: "USD"},
		{Type: cardspec.LineCapture, Network: "visa", STAN: "2", RRN: "B", Amount: "500", Currency: "USD"},
		{Type: cardspec.LineReversal, Reverses: cardspec.LineCapture, Network: "visa", STAN: "9", RRN: "Z", Amount: "500", Currency: "USD",
			Original: &cardspec.Original{MTI: "0200", STAN: "2", RRN: "B"}},
		{Type: cardspec.LineRefund, Network: "visa", STAN: "3", RRN: "C", Amount: "200", Currency: "USD"},
	}}}}
	got, err := NetworkSide(r)
	if err != nil {
		t.Fatal(err)
	}
	want := []Movement{
		{Kind: "capture", Network: "visa", STAN: "1", RRN: "A", Minor: 1000, Currency: "USD"},
		{Kind: "refund", Network: "visa", STAN: "3", RRN: "C", Minor: 200, Currency: "USD"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("net movements (-want +got):\n%s", diff)
	}
	bad := cardspec.SettlementReport{Groups: []cardspec.SettlementGroup{{Lines: []cardspec.SettlementLine{{Type: "capture", Amount: "1.5"}}}}}
	if _, err := NetworkSide(bad); err == nil {
		t.Fatal("a non-integer amount was accepted")
	}
}

func TestMatch(t *testing.T) {
	capture := func(stan string, minor int64) Movement {
		return Movement{Kind: "capture", Network: "visa", STAN: stan, RRN: "R" + stan, Minor: minor, Currency: "USD"}
	}
	load := func(stan string, minor int64) Movement {
		m := capture(stan, minor)
		m.Object = "load_" + stan
		return m
	}
	refund := Movement{Kind: "refund", Network: "jcb", STAN: "7", RRN: "R7", Minor: 900, Currency: "JPY"}
	network := []Movement{capture("1", 100), capture("2", 200), capture("3", 300), refund}
	ledger := []Movement{load("1", 100), load("2", 250), load("4", 400)}
	var rules []string
	for _, b := range Match(network, ledger) {
		rules = append(rules, b.Rule+":"+b.STAN)
	}
	want := []string{"amount_mismatch:2", "capture_without_credit:3", "credit_without_capture:4", "refund_without_unload:7"}
	if diff := cmp.Diff(want, rules); diff != "" {
		t.Fatalf("breaks (-want +got):\n%s", diff)
	}
	if got := Match(network[:1], ledger[:1]); len(got) != 0 {
		t.Fatalf("matching sides reported %v", got)
	}
}
