package gateway

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/inbound-gateway/inbound/internal/db"
)

// store is the gorm code of the gateway: the cards and network_calls
// tables (migration 0300_cards.sql). Methods taking a tx run inside the
// caller's transaction; the others run on their own.
//
// Times are the service's clock, not gorm's: the repair jobs compare them
// with the clock they are given, so gorm must not stamp its own.
type store struct {
	db *db.DB
}

type cardRow struct {
	ID            string `gorm:"primaryKey"`
	PartnerID     string
	VisitorID     string
	Status        string
	Network       string
	BIN           string `gorm:"column:bin"`
	Last4         string `gorm:"column:last4"`
	ExpMonth      int
	ExpYear       int
	IssuerCountry string
	Currency      string
	PANSealed     string `gorm:"column:pan_sealed"`
	Fingerprint   string
	// TestCard marks a published test card, which any number of visitors
	// may hold (migration 0875).
	TestCard        bool `gorm:"column:test_card"`
	HolderNameScore float64
	VerifyCallID    string
	ChallengeID     string
	DeclineCode     string
	CreatedAt       time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt       time.Time `gorm:"autoUpdateTime:false"`
}

func (cardRow) TableName() string { return "cards" }

type callRow struct {
	ID           string `gorm:"primaryKey"`
	Kind         string
	Network      string
	MTI          string `gorm:"column:mti"`
	STAN         string `gorm:"column:stan"`
	RRN          string `gorm:"column:rrn"`
	AmountMinor  int64
	Currency     string
	CardID       string
	Reference    string
	OriginalID   string
	State        string
	ResponseCode string
	AuthCode     string
	DeclineCode  string
	ChallengeID  string
	Attempts     int
	OTPAttempts  int       `gorm:"column:otp_attempts"`
	CreatedAt    time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt    time.Time `gorm:"autoUpdateTime:false"`
}

func (callRow) TableName() string { return "network_calls" }

// activeStatuses hold a card's fingerprint (the partial unique index of
// the migration lists the same).
var activeStatuses = []string{string(StatusPending), string(StatusVerified), string(StatusRequiresAction)}

// transact runs fn in a transaction with the store's retries.
func (s store) transact(ctx context.Context, fn func(tx *db.Tx) error) error {
	return s.db.Transact(ctx, fn)
}

// lockVisitor serialises the bindings of one visitor (the five-card limit
// is a count, which row locks on the cards cannot protect). It returns
// ErrVisitorNotFound when there is no such visitor.
func (s store) lockVisitor(tx *db.Tx, visitorID string) error {
	var ids []string
	err := s.db.ForUpdate(tx.Table("visitors").Where("id = ?", visitorID)).Pluck("id", &ids).Error
	if err != nil {
		return fmt.Errorf("gateway: lock visitor: %w", err)
	}
	if len(ids) == 0 {
		return ErrVisitorNotFound
	}
	return nil
}

// activeByFingerprint returns the active card with the fingerprint, if
// any: of any visitor, or only of visitorID when it is not "" (test cards,
// which several visitors may hold). A visitor's own binding comes first.
func (s store) activeByFingerprint(tx *db.Tx, fingerprint, visitorID string) (*cardRow, error) {
	var rows []cardRow
	q := tx.Where("fingerprint = ? AND status IN ?", fingerprint, activeStatuses)
	if visitorID != "" {
		q = q.Where("visitor_id = ?", visitorID)
	}
	err := q.Limit(1).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("gateway: find card: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return &rows[0], nil
}

// DetachVisitorCardsTx ends the bindings of every active card of the
// visitor, inside tx: the prepaid service calls it in the transaction that
// closes the visitor's account, so a card is free for another visitor the
// moment the account it served is closed. The cards become removed, as
// if the partner had deleted them (a refund may still go to them). It
// returns how many cards it released.
func DetachVisitorCardsTx(tx *db.Tx, visitorID string, at time.Time) (int64, error) {
	res := tx.Model(&cardRow{}).Where("visitor_id = ? AND status IN ?", visitorID, activeStatuses).
		Updates(map[string]any{"status": string(StatusRemoved), "challenge_id": "", "updated_at": at.UTC()})
	if res.Error != nil {
		return 0, fmt.Errorf("gateway: release cards: %w", res.Error)
	}
	return res.RowsAffected, nil
}

func (s store) countActive(tx *db.Tx, visitorID string) (int64, error) {
	var n int64
	err := tx.Model(&cardRow{}).Where("visitor_id = ? AND status IN ?", visitorID, activeStatuses).Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("gateway: count cards: %w", err)
	}
	return n, nil
}

func (s store) insertCard(tx *db.Tx, r cardRow) error {
	if err := tx.Create(&r).Error; err != nil {
		return fmt.Errorf("gateway: insert card: %w", err)
	}
	return nil
}

// cardForUpdate locks one card by id (any partner), or ErrCardNotFound.
func (s store) cardForUpdate(tx *db.Tx, id string) (cardRow, error) {
	var rows []cardRow
	if err := s.db.ForUpdate(tx.Where("id = ?", id)).Limit(1).Find(&rows).Error; err != nil {
		return cardRow{}, fmt.Errorf("gateway: lock card: %w", err)
	}
	if len(rows) == 0 {
		return cardRow{}, ErrCardNotFound
	}
	return rows[0], nil
}

func (s store) saveCard(tx *db.Tx, r cardRow) error {
	if err := tx.Save(&r).Error; err != nil {
		return fmt.Errorf("gateway: save card: %w", err)
	}
	return nil
}

// card returns a card of the visitor of the partner, or ErrCardNotFound.
func (s store) card(ctx context.Context, partnerID, visitorID, id string) (cardRow, error) {
	var rows []cardRow
	err := s.db.WithContext(ctx).Where("id = ? AND partner_id = ? AND visitor_id = ?", id, partnerID, visitorID).
		Limit(1).Find(&rows).Error
	if err != nil {
		return cardRow{}, fmt.Errorf("gateway: get card: %w", err)
	}
	if len(rows) == 0 {
		return cardRow{}, ErrCardNotFound
	}
	return rows[0], nil
}

// cardByID returns a card of any partner, or ErrCardNotFound.
func (s store) cardByID(ctx context.Context, id string) (cardRow, error) {
	var rows []cardRow
	if err := s.db.WithContext(ctx).Where("id = ?", id).Limit(1).Find(&rows).Error; err != nil {
		return cardRow{}, fmt.Errorf("gateway: get card: %w", err)
	}
	if len(rows) == 0 {
		return cardRow{}, ErrCardNotFound
	}
	return rows[0], nil
}

// listCards returns the visitor's active cards (verified or awaiting an
// OTP), oldest first. Five at most, so no pagination is needed.
func (s store) listCards(ctx context.Context, partnerID, visitorID string) ([]cardRow, error) {
	var rows []cardRow
	err := s.db.WithContext(ctx).
		Where("partner_id = ? AND visitor_id = ? AND status IN ?", partnerID, visitorID,
			[]string{string(StatusVerified), string(StatusRequiresAction)}).
		Order("id").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("gateway: list cards: %w", err)
	}
	return rows, nil
}

// stalePending claims, with SKIP LOCKED, up to limit pending cards last
// touched before cutoff.
func (s store) stalePending(tx *db.Tx, cutoff time.Time, limit int) ([]cardRow, error) {
	var rows []cardRow
	q := tx.Where("status = ? AND updated_at < ?", string(StatusPending), cutoff.UTC()).Order("updated_at").Limit(limit)
	if err := s.db.ForUpdateSkipLocked(q).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("gateway: stale cards: %w", err)
	}
	return rows, nil
}

// insertCall commits the write-ahead record of a call in its own
// transaction: it must be durable before the message leaves.
func (s store) insertCall(ctx context.Context, r callRow) error {
	err := s.db.Transact(ctx, func(tx *gorm.DB) error { return tx.Create(&r).Error })
	if err != nil {
		return fmt.Errorf("gateway: record network call: %w", err)
	}
	return nil
}

func (s store) insertCallTx(tx *db.Tx, r callRow) error {
	if err := tx.Create(&r).Error; err != nil {
		return fmt.Errorf("gateway: record network call: %w", err)
	}
	return nil
}

// callForUpdate locks one call, or ErrCallNotFound.
func (s store) callForUpdate(tx *db.Tx, id string) (callRow, error) {
	var rows []callRow
	if err := s.db.ForUpdate(tx.Where("id = ?", id)).Limit(1).Find(&rows).Error; err != nil {
		return callRow{}, fmt.Errorf("gateway: lock network call: %w", err)
	}
	if len(rows) == 0 {
		return callRow{}, ErrCallNotFound
	}
	return rows[0], nil
}

func (s store) saveCall(tx *db.Tx, r callRow) error {
	if err := tx.Save(&r).Error; err != nil {
		return fmt.Errorf("gateway: save network call: %w", err)
	}
	return nil
}

func (s store) call(ctx context.Context, id string) (callRow, error) {
	var rows []callRow
	if err := s.db.WithContext(ctx).Where("id = ?", id).Limit(1).Find(&rows).Error; err != nil {
		return callRow{}, fmt.Errorf("gateway: get network call: %w", err)
	}
	if len(rows) == 0 {
		return callRow{}, ErrCallNotFound
	}
	return rows[0], nil
}

// reversalOf returns the reversal row of a call, if one was made.
func (s store) reversalOf(tx *db.Tx, originalID string) (*callRow, error) {
	var rows []callRow
	err := tx.Where("original_id = ? AND kind = ?", originalID, string(KindReversal)).Limit(1).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("gateway: find reversal: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return &rows[0], nil
}

func (s store) callsByReference(ctx context.Context, ref string) ([]callRow, error) {
	var rows []callRow
	if err := s.db.WithContext(ctx).Where("reference = ?", ref).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("gateway: network calls: %w", err)
	}
	return rows, nil
}

// staleCalls claims, with SKIP LOCKED, up to limit calls (reversals
// excluded) whose outcome is not known and that were last touched before
// cutoff; Inquirable calls in intent (sales and refunds never challenged)
// only once last touched before ownerCutoff.
func (s store) staleCalls(tx *db.Tx, cutoff, ownerCutoff time.Time, limit int) ([]callRow, error) {
	var rows []callRow
	q := tx.Where("state IN ? AND kind <> ? AND updated_at < ?",
		[]string{string(StateIntent), string(StateUnknown)}, string(KindReversal), cutoff.UTC()).
		Where("NOT (state = ? AND kind IN ? AND challenge_id = '' AND otp_attempts = 0 AND updated_at >= ?)",
			string(StateIntent), []string{string(KindSale), string(KindRefund)}, ownerCutoff.UTC()).
		Order("updated_at").Limit(limit)
	if err := s.db.ForUpdateSkipLocked(q).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("gateway: stale network calls: %w", err)
	}
	return rows, nil
}

// oldestTouch is when the least recently touched open call was last
// touched: among the Inquirable calls in intent (owned), or among the
// others; nil when there is none.
func (s store) oldestTouch(ctx context.Context, owned bool) (*time.Time, error) {
	cond := "state = ? AND kind IN ? AND challenge_id = '' AND otp_attempts = 0"
	if !owned {
		cond = "NOT (" + cond + ")"
	}
	var rows []callRow
	err := s.db.WithContext(ctx).Where("state IN ? AND kind <> ?",
		[]string{string(StateIntent), string(StateUnknown)}, string(KindReversal)).
		Where(cond, string(StateIntent), []string{string(KindSale), string(KindRefund)}).
		Order("updated_at").Limit(1).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("gateway: oldest open network call: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return &rows[0].UpdatedAt, nil
}
