package ledger

import (
	"context"
	"fmt"
	"time"
)

// Checkpoint is a stored snapshot of every account's posted sums over the
// transfers up to Seq.
type Checkpoint struct {
	Seq       int64 // every transfer with a sequence number up to Seq is in it
	Transfers int64 // how many transfers that is
	Accounts  int64 // accounts with sums
	CreatedAt time.Time
}

// ErrNotClean is returned by Checkpoint when the ledger does not verify:
// a checkpoint would carry the break forward where incremental verifies
// no longer see it.
var ErrNotClean = fmt.Errorf("ledger: not checkpointed: the ledger does not verify clean")

// Checkpoint stores the posted sums of every account over all transfers
// committed so far, so that Verify afterwards adds only the later
// transfers to them (and old transfers can be archived: the checkpoint
// carries their sums forward). It is derived from the previous checkpoint
// and the transfers after it, never from the balance rows, and is taken
// only if the ledger verifies clean first. It returns the new checkpoint,
// or the latest one if no transfer came since.
//
// On PostgreSQL it briefly takes a SHARE lock on ledger_transfers (new
// transfers wait for it, milliseconds) to find the highest sequence
// number below which every transfer has committed; see quiescedMaxSeq.
func (l *Ledger) Checkpoint(ctx context.Context) (Checkpoint, error) {
	var seq, prev int64
	err := l.tx.transact(ctx, false, func(s store) error {
		var err error
		if seq, err = s.quiescedMaxSeq(ctx); err != nil {
			return err
		}
		prev, err = s.lastCheckpoint(ctx)
		return err
	})
	if err != nil {
		return Checkpoint{}, fmt.Errorf("ledger: checkpoint: %w", err)
	}
	if seq <= prev {
		return Checkpoint{Seq: prev}, nil
	}
	// Every transfer up to seq has committed, so this snapshot sees them.
	breaks, err := l.Verify(ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	if len(breaks) > 0 {
		return Checkpoint{}, fmt.Errorf("%w: %d break(s), first: %s", ErrNotClean, len(breaks), breaks[0])
	}
	var cp Checkpoint
	err = l.tx.transact(ctx, false, func(s store) error {
		last, err := s.lastCheckpoint(ctx)
		if err != nil {
			return err
		}
		if last != prev {
			return fmt.Errorf("another checkpoint (%d) was taken meanwhile", last)
		}
		cp, err = s.writeCheckpoint(ctx, prev, seq, l.clock())
		return err
	})
	if err != nil {
		return Checkpoint{}, fmt.Errorf("ledger: checkpoint: %w", err)
	}
	return cp, nil
}
