package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/ids"
)

// Reverse takes back a call in full: an authorisation's hold is released,
// a sale, capture or refund undone. It is for a call that was approved but
// must not stand (the load it paid for could not be credited) and for one
// whose outcome is unknown; reversing an already reversed call returns it
// unchanged. The reversal is retried within the client's ReversalBudget;
// if it is still not acknowledged, the call stays unknown and Repair
// finishes the job, so the caller may treat the call as undone either way.
func (c *Client) Reverse(ctx context.Context, callID string) (Call, error) {
	return c.reverse(ctx, callID)
}

// reversible are the states in which something of a call may stand.
var reversible = map[CallState]bool{StateIntent: true, StateApproved: true, StateUnknown: true}

func (c *Client) reverse(ctx context.Context, callID string) (Call, error) {
	var orig, rev callRow
	done := false
	err := c.store.transact(ctx, func(tx *db.Tx) error {
		o, err := c.store.callForUpdate(tx, callID)
		if err != nil {
			return err
		}
		orig, done = o, false
		switch {
		case CallState(o.State) == StateReversed:
			done = true
			return nil
		case o.Kind == string(KindReversal) || !reversible[CallState(o.State)]:
			return fmt.Errorf("%w: call %s is a %s in state %s", ErrNotReversible, o.ID, o.Kind, o.State)
		}
		now := c.now().UTC()
		r, err := c.store.reversalOf(tx, o.ID)
		if err != nil {
			return err
		}
		if r == nil {
			// One reversal row per call, made once: every retry, by this
			// process or by Repair on another replica, sends the same STAN
			// and RRN, which the network answers as a repeat.
			tr := NewTrace(now)
			r = &callRow{
				ID: ids.New(ids.NetworkCall), Kind: string(KindReversal), Network: o.Network, MTI: MTIReversal,
				STAN: tr.STAN, RRN: tr.RRN, AmountMinor: o.AmountMinor, Currency: o.Currency, CardID: o.CardID,
				Reference: o.Reference, OriginalID: o.ID, State: string(StateIntent), CreatedAt: now,
			}
		}
		r.Attempts++
		r.UpdatedAt = now
		if r.Attempts == 1 {
			err = c.store.insertCallTx(tx, *r)
		} else {
			err = c.store.saveCall(tx, *r)
		}
		if err != nil {
			return err
		}
		if o.State == string(StateIntent) {
			o.State, o.DeclineCode = string(StateUnknown), DeclineIssuerUnavailable
		}
		o.UpdatedAt = now // the lease: Repair leaves it alone for a grace period
		orig, rev = o, *r
		return c.store.saveCall(tx, o)
	})
	if err != nil || done {
		return toCall(orig), err
	}

	src, _, err := c.openCard(ctx, orig.CardID)
	if err != nil {
		return toCall(orig), err
	}
	amount, err := amountOf(orig)
	if err != nil {
		return toCall(orig), err
	}
	n := src.pan.Network()
	req := ReversalRequest{
		Trace: Trace{STAN: rev.STAN, RRN: rev.RRN}, PAN: src.pan, Amount: amount, Original: toCall(orig).Ref(),
	}
	bctx, cancel := context.WithTimeout(ctx, c.opts.ReversalBudget)
	start := time.Now()
	res, sendErr := ReverseUntilAcknowledged(bctx, c.conn, req, c.opts.ReversalBackoff)
	cancel()
	c.metrics.observe(n, KindReversal, codeLabel(res, sendErr), time.Since(start))

	err = c.store.transact(ctx, func(tx *db.Tx) error {
		o, err := c.store.callForUpdate(tx, orig.ID)
		if err != nil {
			return err
		}
		r, err := c.store.callForUpdate(tx, rev.ID)
		if err != nil {
			return err
		}
		now := c.now().UTC()
		r.UpdatedAt = now
		switch {
		case sendErr == nil && res.Approved():
			r.State, r.ResponseCode = string(StateApproved), res.ResponseCode
			o.State, o.UpdatedAt = string(StateReversed), now
			if o.DeclineCode == "" {
				o.DeclineCode = DeclineIssuerUnavailable
			}
		case sendErr == nil:
			// Only a message the network cannot match to the original is
			// declined (a client bug): keep the call open for a human and
			// for Repair.
			r.State, r.ResponseCode = string(StateDeclined), res.ResponseCode
		case errors.Is(sendErr, ErrRejected):
			r.State = string(StateRejected)
		default:
			r.State = string(StateUnknown)
		}
		if err := c.store.saveCall(tx, r); err != nil {
			return err
		}
		orig = o
		return c.store.saveCall(tx, o)
	})
	if err != nil {
		return toCall(orig), err
	}
	switch {
	case orig.State == string(StateReversed):
		c.log.Info("network call reversed", "call", orig.ID, "network", n.String(), "kind", orig.Kind,
			"reversal", rev.ID, "stan", rev.STAN, "rrn", rev.RRN)
	case sendErr != nil:
		c.log.Warn("reversal not acknowledged; left to repair", "call", orig.ID, "network", n.String(),
			"reversal", rev.ID, "err", sendErr)
		return toCall(orig), fmt.Errorf("gateway: reversal of %s: %w", orig.ID, sendErr)
	default:
		c.log.Error("reversal declined; the call needs a look", "call", orig.ID, "network", n.String(),
			"reversal", rev.ID, "response_code", res.ResponseCode)
		return toCall(orig), fmt.Errorf("gateway: reversal of %s declined with %s: %w", orig.ID, res.ResponseCode, ErrNotReversible)
	}
	return toCall(orig), nil
}

// Repair reverses the calls of processes that died between recording an
// intent and recording its outcome, and the unknown calls whose reversal
// was never acknowledged: every call in intent or unknown last touched
// more than RepairGrace before now. It is safe to run on every replica at
// once (calls are claimed with SKIP LOCKED and leased for a grace period)
// and again after a crash (a reversal always reuses its STAN and RRN). It
// returns how many calls it reversed. Approved calls are left alone: what
// they paid for is their owner's to finish (see CallsByReference); so are,
// for OwnerGrace, sales and refunds in intent, which their owner settles
// with Inquire (a capture approved but not recorded is booked, not undone).
func (c *Client) Repair(ctx context.Context, now time.Time) (int, error) {
	var claimed []callRow
	err := c.store.transact(ctx, func(tx *db.Tx) error {
		rows, err := c.store.staleCalls(tx, now.Add(-c.opts.RepairGrace), now.Add(-max(c.opts.OwnerGrace, c.opts.RepairGrace)), c.opts.RepairBatch)
		if err != nil {
			return err
		}
		for i := range rows {
			// Lease: other replicas skip it until the grace period passes
			// again, even after this transaction ends.
			rows[i].UpdatedAt = c.now().UTC()
			if rows[i].State == string(StateIntent) {
				rows[i].State, rows[i].DeclineCode = string(StateUnknown), DeclineIssuerUnavailable
			}
			if err := c.store.saveCall(tx, rows[i]); err != nil {
				return err
			}
		}
		claimed = rows
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("gateway: repair: %w", err)
	}
	reversed := 0
	for _, r := range claimed {
		call, err := c.reverse(ctx, r.ID)
		if call.State == StateReversed {
			reversed++
			c.metrics.repaired.WithLabelValues(r.Network, "reversed").Inc()
			continue
		}
		c.metrics.repaired.WithLabelValues(r.Network, "pending").Inc()
		if err != nil && !errors.Is(err, ErrNotReversible) {
			// The network does not acknowledge now: the rest of the batch
			// keeps its lease and is tried again after the grace period,
			// rather than each waiting out a full reversal budget.
			return reversed, fmt.Errorf("gateway: repair: %w", err)
		}
	}
	return reversed, nil
}

// RepairLag is the age of the oldest call Repair has yet to take, counted
// from when it became due (its last touch plus RepairGrace, or OwnerGrace
// for an Inquirable call in intent); 0 when none is due. It is the
// network.repair job's inbound_job_lag_seconds.
func (c *Client) RepairLag(ctx context.Context, now time.Time) (time.Duration, error) {
	var lag time.Duration
	for _, owned := range []bool{false, true} {
		touched, err := c.store.oldestTouch(ctx, owned)
		if err != nil {
			return 0, err
		}
		if touched == nil {
			continue
		}
		grace := c.opts.RepairGrace
		if owned {
			grace = max(c.opts.OwnerGrace, c.opts.RepairGrace)
		}
		lag = max(lag, now.Sub(touched.Add(grace)))
	}
	return lag, nil
}

// RepairLag is the client's RepairLag.
func (b *Binder) RepairLag(ctx context.Context, now time.Time) (time.Duration, error) {
	return b.client.RepairLag(ctx, now)
}
