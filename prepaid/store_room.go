package prepaid

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/inbound-gateway/inbound/internal/db"
)

// cardRoom is what one card moved in and out of an account: its
// succeeded loads (captured in the card currency, credited in CNY) and its
// unloads that went out or may still go out (pending or succeeded:
// refunded in the card currency, debited in CNY). See Service.Unload for
// the rule built on it.
type cardRoom struct {
	CardID   string
	Currency string
	// Captured and Credited sum the card's succeeded loads; Refunded and
	// Debited its pending and succeeded unloads (minor units).
	Captured, Credited int64
	Refunded, Debited  int64
}

// refundRoom is what the network may still refund to the card, in the
// card currency: captures net of refunds.
func (c cardRoom) refundRoom() int64 { return max(0, c.Captured-c.Refunded) }

// cnyRoom is the CNY the card may still take from the account: what its
// loads credited net of what its unloads debited.
func (c cardRoom) cnyRoom() int64 { return max(0, c.Credited-c.Debited) }

// cardRoomsTx lists the cards that funded the account, newest succeeded
// load first, with their room. A card appears once per currency it was
// charged in (one, in practice: a card has one currency).
func (s *Store) cardRoomsTx(tx *db.Tx, accountID string) ([]cardRoom, error) {
	var loads []struct {
		CardID, ChargedCurrency string
		Captured, Credited      int64
	}
	if err := tx.Raw(`SELECT card_id, charged_currency, SUM(charged_minor) AS captured, SUM(credited_minor) AS credited
		FROM prepaid_loads WHERE account_id = ? AND status = ?
		GROUP BY card_id, charged_currency ORDER BY MAX(created_at) DESC, card_id`, accountID, string(LoadSucceeded)).
		Scan(&loads).Error; err != nil {
		return nil, fmt.Errorf("prepaid: card rooms: loads: %w", err)
	}
	var unloads []struct {
		CardID, RefundCurrency string
		Refunded, Debited      int64
	}
	if err := tx.Raw(`SELECT card_id, refund_currency, SUM(refund_minor) AS refunded, SUM(amount_minor) AS debited
		FROM prepaid_unloads WHERE account_id = ? AND status IN (?, ?)
		GROUP BY card_id, refund_currency`, accountID, string(UnloadPending), string(UnloadSucceeded)).
		Scan(&unloads).Error; err != nil {
		return nil, fmt.Errorf("prepaid: card rooms: unloads: %w", err)
	}
	out := make([]cardRoom, 0, len(loads))
	at := map[string]int{}
	for _, l := range loads {
		at[l.CardID+"|"+l.ChargedCurrency] = len(out)
		out = append(out, cardRoom{CardID: l.CardID, Currency: l.ChargedCurrency, Captured: l.Captured, Credited: l.Credited})
	}
	for _, u := range unloads {
		i, ok := at[u.CardID+"|"+u.RefundCurrency]
		if !ok {
			// An unload to a card (or in a currency) with no succeeded
			// load: it has no room to take from; recon reports it.
			continue
		}
		out[i].Refunded += u.Refunded
		out[i].Debited += u.Debited
	}
	return out, nil
}

// cardRooms is cardRoomsTx outside a transaction, for pricing an unload
// before its own transaction checks the figures again.
func (s *Store) cardRooms(ctx context.Context, accountID string) ([]cardRoom, error) {
	var out []cardRoom
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		out, err = s.cardRoomsTx(tx, accountID)
		return err
	})
	return out, err
}

// unloadGroupTx lists the unloads of a request, first one first. A row
// from before groups existed (empty group_id) is a group of its own.
func (s *Store) unloadGroupTx(tx *db.Tx, first unloadRow) ([]unloadRow, error) {
	if first.GroupID == "" {
		return []unloadRow{first}, nil
	}
	var rows []unloadRow
	if err := tx.Where("group_id = ?", first.GroupID).Order("part_no").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("prepaid: unloads of %s: %w", first.GroupID, err)
	}
	return rows, nil
}

// unloadGroup is unloadGroupTx outside a transaction.
func (s *Store) unloadGroup(ctx context.Context, first unloadRow) ([]unloadRow, error) {
	return s.unloadGroupTx(s.db.WithContext(ctx), first)
}
