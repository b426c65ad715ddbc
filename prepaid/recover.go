package prepaid

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/inbound-gateway/inbound/fx"
	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/internal/db"
)

// Recover settles the loads and unloads a crash, a timeout or a failed
// commit left unfinished, from the gateway's record of their network call
// (the call's reference is the load or unload id):
//
//   - no call recorded: nothing reached the network; the load fails (an
//     unload's hold is released);
//   - an approved call with no reversal: the network captured (or
//     refunded) and only the ledger is missing: it is posted now under
//     the same reference, so a post that did happen is a replay;
//   - a sale or refund in intent (the process died, or the database
//     failed, between the network's answer and its record) and never
//     reversed: the network is asked again (gateway Inquire, the same
//     message under the same STAN and RRN, answered as a repeat); its
//     answer is recorded and the load or unload settled from it, so an
//     approved capture is credited (load.succeeded) and an approved
//     refund booked. Unanswered, it stays pending for the gateway's
//     InquiryWindow, then the call is reversed;
//   - an approved call with a reversal, or one in intent or unknown: it is
//     reversed (again: a reversal reuses its STAN and RRN) and the load
//     fails; if the network does not acknowledge, the row stays for the
//     next run;
//   - declined, rejected, reversed: the load fails with the call's code;
//   - a requires_action load older than ActionTTL fails
//     (authentication_required), freeing its limit room.
//
// It takes rows untouched for Grace, leasing them, so it is safe on every
// replica at once and never races a live request (which renews the lease
// while it runs, see keepLeased). Register it as a periodic job (every few
// seconds: a row is due Grace after its request died) after the gateway's
// Repair. It returns how many rows it settled.
func (s *Service) Recover(ctx context.Context, now time.Time) (int, error) {
	loads, err := s.st.claimStaleLoads(ctx, now.Add(-s.d.Grace), now.Add(-s.d.ActionTTL), s.now(), s.d.Batch)
	if err != nil {
		return 0, err
	}
	var errs []error
	n := 0
	for _, r := range loads {
		l, err := s.settleLoad(ctx, r.ID, false, nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if l.Status == LoadSucceeded || l.Status == LoadFailed {
			n++
		}
	}
	unloads, err := s.st.claimStaleUnloads(ctx, now.Add(-s.d.Grace), s.now(), s.d.Batch)
	if err != nil {
		return n, errors.Join(append(errs, err)...)
	}
	for _, r := range unloads {
		u, err := s.settleUnload(ctx, r.ID, nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if u.Status != UnloadPending {
			n++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("prepaid: recover: %w", err)
	}
	return n, nil
}

// callOf finds the money-moving call of a reference (the latest, kind
// kind) and whether a reversal of it was ever made.
func (s *Service) callOf(ctx context.Context, reference string, kind gateway.CallKind) (*gateway.Call, bool, error) {
	calls, err := s.d.Network.CallsByReference(ctx, reference)
	if err != nil {
		return nil, false, err
	}
	var main *gateway.Call
	reversed := map[string]bool{}
	for i, c := range calls {
		switch c.Kind {
		case gateway.KindReversal:
			reversed[c.OriginalID] = true
		case kind:
			main = &calls[i]
		}
	}
	if main == nil {
		return nil, false, nil
	}
	return main, reversed[main.ID], nil
}

// settleLoad brings an unfinished load to succeeded or failed from its
// call record (see Recover). inline is set when the request that made the
// load settles it itself; a requires_action load is then left alone. A
// credited load ends its transaction with then (the request's answer).
func (s *Service) settleLoad(ctx context.Context, loadID string, inline bool, then []db.Then[Load]) (Load, error) {
	r, err := s.st.load(ctx, "", loadID)
	if err != nil {
		return Load{}, err
	}
	st := LoadStatus(r.Status)
	if st != LoadPending && (st != LoadRequiresAction || inline) {
		return r.load(), nil
	}
	call, hasReversal, err := s.callOf(ctx, loadID, gateway.KindSale)
	if err != nil {
		return Load{}, err
	}
	switch {
	case call == nil:
		return s.finishLoad(ctx, loadID, nil, gateway.DeclineIssuerUnavailable, nil)
	case s.inquire(call, hasReversal):
		if err := s.inquireCall(ctx, loadID, call); err != nil {
			return r.load(), err
		}
		// The network's answer is recorded now: settle from it.
		return s.settleLoad(ctx, loadID, inline, then)
	case call.State == gateway.StateApproved && !hasReversal:
		l, err := s.finishLoad(ctx, loadID, call, "", then)
		if err == nil {
			return l, nil
		}
		// The credit cannot be written: take the capture back instead.
		s.log.ErrorContext(ctx, "captured load cannot be credited; reversing", "load", loadID, "call", call.ID, "err", err)
		fallthrough
	case call.State == gateway.StateApproved, call.State == gateway.StateIntent, call.State == gateway.StateUnknown:
		c, err := s.d.Network.Reverse(ctx, call.ID)
		if err != nil || c.State != gateway.StateReversed {
			return r.load(), fmt.Errorf("prepaid: load %s: reversal of %s not acknowledged: %w", loadID, call.ID, err)
		}
		return s.finishLoad(ctx, loadID, nil, gateway.DeclineIssuerUnavailable, nil)
	case call.State == gateway.StateChallenged:
		return s.finishLoad(ctx, loadID, nil, gateway.DeclineAuthenticationRequired, nil)
	}
	return s.finishLoad(ctx, loadID, nil, declineOf(*call), nil)
}

// inquire reports whether call is a sale or refund whose answer was
// never recorded and that was never reversed: the network is asked again
// for its answer (Inquire) rather than the call reversed, so that a
// capture approved just before a crash or a database failure is credited.
func (s *Service) inquire(call *gateway.Call, hasReversal bool) bool {
	return call.State == gateway.StateIntent && !hasReversal && gateway.Inquirable(*call)
}

// inquireCall asks the network for the answer to the call of a load or
// unload and records it. An error leaves the call in intent (the network
// did not answer yet, or the database failed again): the load or unload
// stays pending for the next retry or Recover.
func (s *Service) inquireCall(ctx context.Context, ref string, call *gateway.Call) error {
	c, err := s.d.Network.Inquire(ctx, call.ID, nil)
	if err == nil || (c.State != gateway.StateIntent && !errors.Is(err, gateway.ErrInquiryUnanswered) &&
		!errors.Is(err, gateway.ErrNotRecorded)) {
		// Recorded (a decline is an answer too).
		s.log.InfoContext(ctx, "network inquiry answered", "reference", ref, "call", call.ID, "state", string(c.State))
		return nil
	}
	return fmt.Errorf("prepaid: %s: inquiry of %s: %w", ref, call.ID, err)
}

// finishLoad credits the load for an approved call, or fails it with
// declineCode, if it is still unfinished.
func (s *Service) finishLoad(ctx context.Context, loadID string, approved *gateway.Call, declineCode string, then []db.Then[Load]) (Load, error) {
	var (
		q     fx.Quote
		accts map[fx.Role]string
	)
	if approved != nil {
		r, err := s.st.load(ctx, "", loadID)
		if err != nil {
			return Load{}, err
		}
		if q, accts, err = s.loadParts(ctx, r); err != nil {
			return Load{}, err
		}
	}
	var out Load
	err := s.st.transact(ctx, func(tx *db.Tx) error {
		r, err := s.st.loadForUpdateTx(tx, loadID)
		if err != nil {
			return err
		}
		if st := LoadStatus(r.Status); st != LoadPending && st != LoadRequiresAction {
			out = r.load()
			return nil
		}
		r.UpdatedAt = s.now().Truncate(time.Microsecond)
		if approved != nil {
			r.CallID = approved.ID
			r.ResponseCode, r.AuthCode, r.STAN, r.RRN = approved.ResponseCode, approved.AuthCode, approved.Trace.STAN, approved.Trace.RRN
			return s.creditLoad(ctx, tx, r, q, accts, &out, then)
		}
		return s.failLoadTx(tx, r, declineCode, &out)
	})
	if err == nil {
		s.log.InfoContext(ctx, "load settled", "load", loadID, "status", string(out.Status), "decline_code", out.DeclineCode)
	}
	return out, err
}
