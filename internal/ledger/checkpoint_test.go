package ledger_test

import (
	"errors"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

func rules(bs []ledger.Break) map[string]int {
	out := map[string]int{}
	for _, b := range bs {
		out[b.Rule]++
	}
	return out
}

// TestCheckpointedVerifyFindsWhatFullVerifyFinds: after a checkpoint,
// Verify adds only later transfers to it and still sees a balance changed
// by hand (before or after the checkpoint); a tampered checkpoint shows
// as a stored/entries mismatch to Verify and as a checkpoint break to
// VerifyFull; a ledger that does not verify is not checkpointed.
func TestCheckpointedVerifyFindsWhatFullVerifyFinds(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		bk := newBooks(t, b)
		bk.load(t, bk.alice, 10_000)
		bk.post(t, ledger.Move(bk.alice.ID, bk.fees.ID, cny(300)))
		hold := bk.post(t, ledger.Hold(bk.alice.ID, bk.bob.ID, cny(1_000), time.Time{}, ledger.ExpireNone)).Transfers[0].ID

		cp, err := bk.l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Posted sums: network, alice, fees (bob has only the pending hold).
		if cp.Seq == 0 || cp.Transfers != 3 || cp.Accounts != 3 {
			t.Fatalf("checkpoint %+v: want 3 transfers over 3 accounts", cp)
		}
		// Later transfers, one resolving the hold made before the checkpoint.
		bk.load(t, bk.bob, 5_000)
		bk.post(t, ledger.PostHold(hold, cny(600)))
		for name, verify := range map[string]func() ([]ledger.Break, error){
			"verify": func() ([]ledger.Break, error) { return bk.l.Verify(ctx) },
			"full":   func() ([]ledger.Break, error) { return bk.l.VerifyFull(ctx) },
		} {
			if bs, err := verify(); err != nil || len(bs) != 0 {
				t.Fatalf("%s after checkpoint: %v %v", name, bs, err)
			}
		}
		second, err := bk.l.Checkpoint(ctx)
		if err != nil || second.Seq <= cp.Seq || second.Transfers != 5 {
			t.Fatalf("second checkpoint %+v, %v", second, err)
		}
		if again, err := bk.l.Checkpoint(ctx); err != nil || again.Seq != second.Seq {
			t.Fatalf("checkpoint with nothing new: %+v, %v", again, err)
		}

		// A balance changed by hand, on an account with no transfer since.
		if err := b.DB.Gorm.Exec(`UPDATE ledger_balances SET credits_posted = credits_posted + 1 WHERE account_id = ?`, bk.alice.ID).Error; err != nil {
			t.Fatal(err)
		}
		bs, err := bk.l.Verify(ctx)
		if err != nil || rules(bs)[ledger.RuleStoredEqualsEntries] != 1 {
			t.Fatalf("verify after tampering a balance: %v %v", bs, err)
		}
		bk.load(t, bk.bob, 1) // something new to checkpoint
		if _, err := bk.l.Checkpoint(ctx); !errors.Is(err, ledger.ErrNotClean) {
			t.Fatalf("checkpoint of a broken ledger: %v", err)
		}
		if err := b.DB.Gorm.Exec(`UPDATE ledger_balances SET credits_posted = credits_posted - 1 WHERE account_id = ?`, bk.alice.ID).Error; err != nil {
			t.Fatal(err)
		}

		// A tampered checkpoint.
		if err := b.DB.Gorm.Exec(`UPDATE ledger_checkpoint_sums SET debits_posted = debits_posted + 7 WHERE checkpoint_seq = ? AND account_id = ?`,
			second.Seq, bk.alice.ID).Error; err != nil {
			t.Fatal(err)
		}
		bs, err = bk.l.Verify(ctx)
		if err != nil || len(bs) == 0 || rules(bs)[ledger.RuleStoredEqualsEntries] != 1 {
			t.Fatalf("verify over a tampered checkpoint: %v %v", bs, err)
		}
		bs, err = bk.l.VerifyFull(ctx)
		if err != nil || len(bs) != 1 || bs[0].Rule != ledger.RuleCheckpoint {
			t.Fatalf("full verify over a tampered checkpoint: %v %v", bs, err)
		}
	})
}
