package cardnet_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/inbound-gateway/inbound/gateway/cardnet"
)

// ignoreLine compares settlement lines by what the report shows.
var ignoreLine = cmpopts.IgnoreUnexported(cardnet.Line{})

// openSim opens an engine on dir with a test clock.
func openSim(t *testing.T, dir string, c *clock, seq int64, cfg cardnet.Config) *sim {
	t.Helper()
	cfg.Now, cfg.Seed, cfg.MaxHang, cfg.DataDir = c.Now, 1, 2*time.Second, dir
	e, err := cardnet.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &sim{t: t, clock: c, e: e}
	s.seq.Store(seq)
	return s
}

// TestRestartKeepsSettlementAndOpenToBuy: captures, refunds and a
// reversal, a restart from the same directory, and the settlement report
// is identical, the open-to-buy used is still used, a repeat is answered
// from the record and a refund of a capture made before the restart is
// matched. No card number is on disk.
func TestRestartKeepsSettlementAndOpenToBuy(t *testing.T) {
	for _, tc := range []struct {
		name  string
		close bool // a clean stop (snapshot) or a crash (journal only)
	}{{"clean stop", true}, {"crash", false}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cardnet")
			c := &clock{now: testDay}
			s := openSim(t, dir, c, 0, cardnet.Config{})
			const visa, mc = "4242424242424242", "5555555555554444"
			p1 := s.purchase(visa, 50_00, "USD")
			r1 := s.expect(p1, "00")
			a := s.auth(mc, 120_00, "USD")
			ra := s.expect(a, "00")
			s.expect(s.completion(a, ra.AuthCode, 100_00), "00")
			s.expect(s.refund(visa, 20_00, "USD", &cardnet.Original{MTI: p1.MTI, STAN: p1.STAN, RRN: p1.RRN}), "00")
			p2 := s.purchase(visa, 7_00, "USD")
			s.expect(p2, "00")
			s.expect(s.reversal(p2), "00")
			held := s.auth(visa, 5_00, "USD") // an open hold
			s.expect(held, "00")
			before := s.e.Settlement(testDay)
			availVisa, availMC := s.available(visa, "USD"), s.available(mc, "USD")
			if availVisa != limit("USD")-30_00-5_00 || availMC != limit("USD")-100_00 {
				t.Fatalf("before restart: visa %d mc %d", availVisa, availMC)
			}
			if tc.close {
				if err := s.e.Close(); err != nil {
					t.Fatal(err)
				}
			}

			again := openSim(t, dir, c, s.seq.Load(), cardnet.Config{})
			defer again.e.Close()
			if diff := cmp.Diff(before, again.e.Settlement(testDay), ignoreLine); diff != "" {
				t.Fatalf("settlement after restart (-before +after):\n%s", diff)
			}
			if got := again.available(visa, "USD"); got != availVisa {
				t.Errorf("visa open-to-buy after restart: %d, want %d", got, availVisa)
			}
			if got := again.available(mc, "USD"); got != availMC {
				t.Errorf("mastercard open-to-buy after restart: %d, want %d", got, availMC)
			}
			if r := again.send(p1); !r.Replayed || r.AuthCode != r1.AuthCode {
				t.Errorf("repeat after restart: %+v", r)
			}
			// What is left to refund of p1 (30.00) is remembered.
			again.expect(again.refund(visa, 31_00, "USD", &cardnet.Original{MTI: p1.MTI, STAN: p1.STAN, RRN: p1.RRN}), "13")
			again.expect(again.refund(visa, 30_00, "USD", &cardnet.Original{MTI: p1.MTI, STAN: p1.STAN, RRN: p1.RRN}), "00")
			// The hold made before the restart can still be reversed.
			again.expect(again.reversal(held), "00")
			// The captured authorisation stays captured: no second
			// completion, and it cannot be reversed (reverse its
			// completion instead).
			again.expect(again.completion(a, ra.AuthCode, 1_00), "12")
			again.expect(again.reversal(a), "12")

			err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				for _, pan := range []string{visa, mc} {
					if strings.Contains(string(b), pan) {
						t.Errorf("%s holds a card number in the clear", path)
					}
				}
				if info, _ := d.Info(); info.Mode().Perm()&0o077 != 0 {
					t.Errorf("%s is mode %v, want 0600", path, info.Mode().Perm())
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestMemoryStaysBounded: many messages over many days keep the messages
// in memory at MaxMessages and the settlement days at SettlementDays;
// older days are read back from the data directory.
func TestMemoryStaysBounded(t *testing.T) {
	dir := t.TempDir()
	c := &clock{now: testDay}
	s := openSim(t, dir, c, 0, cardnet.Config{MaxMessages: 50, SettlementDays: 2, CompactEvery: 40})
	defer s.e.Close()
	var firstDay cardnet.Report
	for day := range 6 {
		c.Set(testDay.Add(time.Duration(day) * 24 * time.Hour))
		for range 40 {
			p := s.purchase("4242424242424242", 1, "USD")
			s.expect(p, "00")
			s.expect(s.refund("4242424242424242", 1, "USD", nil), "00")
		}
		if day == 0 {
			firstDay = s.e.Settlement(testDay)
		}
		msgs, order, days, _ := s.e.MemorySizes()
		if msgs > 50 || order > 100 || days > 2 {
			t.Fatalf("day %d: %d messages, %d order, %d days in memory", day, msgs, order, days)
		}
	}
	if got := s.e.Settlement(testDay); !cmp.Equal(firstDay, got, ignoreLine) || len(got.Groups) != 1 || got.Groups[0].Captures.Count != 40 {
		t.Fatalf("archived day: %+v", got)
	}
	// In memory only, old days are dropped rather than kept forever.
	m := cardnet.New(cardnet.Config{Now: c.Now, MaxMessages: 10, SettlementDays: 1})
	ms := &sim{t: t, clock: c, e: m}
	for day := range 3 {
		c.Set(testDay.Add(time.Duration(day) * 24 * time.Hour))
		for range 20 {
			ms.expect(ms.purchase("4242424242424242", 1, "USD"), "00")
		}
	}
	if msgs, _, days, _ := m.MemorySizes(); msgs > 10 || days > 1 {
		t.Fatalf("memory-only engine: %d messages, %d days", msgs, days)
	}
}
