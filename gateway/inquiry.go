package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/inbound-gateway/inbound/internal/db"
)

// ErrInquiryUnanswered is an Inquire the network did not answer while the
// call is younger than the client's InquiryWindow: the call stays in
// intent and the inquiry can be made again later.
var ErrInquiryUnanswered = errors.New("gateway: card network did not answer the inquiry")

// Inquirable reports whether the answer to a call whose outcome was never
// recorded can be asked for again with Inquire: a sale or a refund that
// was never challenged (its message holds nothing the gateway does not
// store; a challenged one was resent with an OTP).
func Inquirable(c Call) bool {
	return (c.Kind == KindSale || c.Kind == KindRefund) && c.ChallengeID == "" && c.OTPAttempts == 0
}

// Inquire asks the network what became of a call left in intent (the
// process died between sending the message and recording the answer, or
// the database failed at that moment): it sends the same message again
// under the same STAN and RRN, which the network answers as a repeat with
// the decision it made the first time (a message that never arrived is
// decided now, as a late arrival would be), and records that answer with
// apply in one transaction, as the first exchange would have. So an
// approved capture or refund is recorded and booked rather than reversed.
//
// A call that is no longer in intent, that was ever reversed, or that is
// not Inquirable is returned as it is, and apply does not run. When the
// network does not answer, the call stays in intent and the error is
// ErrInquiryUnanswered while the call is younger than InquiryWindow;
// after that the call is recorded unknown and reversed, as any call
// without answer is. The call's row lock orders an inquiry with the
// original request, should it still be alive, and with Repair: whoever
// records first decides, the others apply the recorded state.
func (c *Client) Inquire(ctx context.Context, callID string, apply Apply) (Call, error) {
	row, ok, err := c.claimInquiry(ctx, callID)
	if err != nil || !ok {
		return toCall(row), err
	}
	n, err := ParseNetwork(row.Network)
	if err != nil {
		return toCall(row), fmt.Errorf("gateway: call %s: %w", row.ID, err)
	}
	if !c.breaker.allow(n) {
		return toCall(row), fmt.Errorf("%w: %w", ErrInquiryUnanswered, c.circuitOpen(n, CallKind(row.Kind)))
	}
	src, _, err := c.openCard(ctx, row.CardID)
	if err != nil {
		c.breaker.release(n)
		return toCall(row), err
	}
	res, sendErr := c.transmit(ctx, row, n, src, "", nil)
	if sendErr != nil && !errors.Is(sendErr, ErrRejected) && c.now().Sub(row.CreatedAt) < c.opts.InquiryWindow {
		c.log.Warn("inquiry not answered; the call stays in intent", "call", row.ID, "network", n.String(),
			"stan", row.STAN, "rrn", row.RRN, "err", sendErr)
		return toCall(row), fmt.Errorf("%w: %s: %w", ErrInquiryUnanswered, row.ID, sendErr)
	}
	c.log.Info("network call inquired", "call", row.ID, "network", n.String(), "kind", row.Kind,
		"stan", row.STAN, "rrn", row.RRN, "response_code", res.ResponseCode, "replayed", res.Replayed)
	return c.record(ctx, row, n, res, sendErr, nil, apply)
}

// claimInquiry locks the call and, if it can be inquired, counts the
// attempt and renews its lease (updated_at) so that Repair leaves it alone
// meanwhile. ok is false when there is nothing to ask.
func (c *Client) claimInquiry(ctx context.Context, callID string) (callRow, bool, error) {
	var (
		row callRow
		ok  bool
	)
	err := c.store.transact(ctx, func(tx *db.Tx) error {
		r, err := c.store.callForUpdate(tx, callID)
		if err != nil {
			return err
		}
		row, ok = r, false
		if CallState(r.State) != StateIntent || !Inquirable(toCall(r)) {
			return nil
		}
		rev, err := c.store.reversalOf(tx, r.ID)
		if err != nil || rev != nil {
			return err
		}
		r.Attempts++
		r.UpdatedAt = c.now().UTC()
		if err := c.store.saveCall(tx, r); err != nil {
			return err
		}
		row, ok = r, true
		return nil
	})
	if err != nil {
		return row, false, fmt.Errorf("gateway: inquiry of %s: %w", callID, err)
	}
	return row, ok, nil
}
