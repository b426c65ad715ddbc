package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/inbound-gateway/inbound/internal/db"
)

// confirmTTL bounds how long a confirm page can be submitted.
const confirmTTL = 15 * time.Minute

// errConfirmationUsed is a confirmation that was already submitted (the
// action is done once), has expired, or belongs to another session,
// action, target or input.
var errConfirmationUsed = errors.New("console: confirmation already used or expired")

// afterConfirmCheck, when set by a test, runs between the check that a
// confirmation is live and the action, to hold racing submissions there.
var afterConfirmCheck atomic.Pointer[func()]

// confirmationRow is a one-time confirmation token of an action's confirm
// page. Only the token's hash is stored.
type confirmationRow struct {
	TokenHash   string    `gorm:"column:token_hash;primaryKey"`
	SessionHash string    `gorm:"column:session_hash"`
	Action      string    `gorm:"column:action"`
	Target      string    `gorm:"column:target"`
	ValuesHash  string    `gorm:"column:values_hash"`
	CreatedAt   time.Time `gorm:"column:created_at"`
	ExpiresAt   time.Time `gorm:"column:expires_at"`
}

func (confirmationRow) TableName() string { return "console_confirmations" }

// confirmation binds a submitted token to what it confirms. The write
// consumes it inside the domain transaction (see audited), so two
// submissions of one confirm page do the action once.
type confirmation struct {
	row confirmationRow
	// usedIn is the transaction that consumed the token: a retried
	// transaction (db.Transact) consumes it again in its own attempt.
	usedIn *db.Tx
}

// bindConfirmation is the binding of a token to the session, action,
// target and submitted values.
func bindConfirmation(s session, a *action, in *input, token string) confirmationRow {
	h := sha256.New()
	for _, f := range a.Fields {
		fmt.Fprintf(h, "%d:%s=%d:%s\x00", len(f.Name), f.Name, len(in.Values[f.Name]), in.Values[f.Name])
	}
	return confirmationRow{TokenHash: hashID(token), SessionHash: hashID(s.id), Action: a.Name, Target: in.Target,
		ValuesHash: hex.EncodeToString(h.Sum(nil))}
}

// issueConfirmation stores a new one-time token for the confirm page of
// an action and returns it. Expired tokens are swept on the way.
func (c *Console) issueConfirmation(ctx context.Context, s session, a *action, in *input) (string, error) {
	token := randomID()
	row := bindConfirmation(s, a, in, token)
	now := c.now()
	row.CreatedAt, row.ExpiresAt = now, now.Add(confirmTTL)
	err := c.api.DB.Transact(ctx, func(tx *db.Tx) error {
		if err := tx.Where("expires_at < ?", now).Delete(&confirmationRow{}).Error; err != nil {
			return err
		}
		return tx.Create(&row).Error
	})
	if err != nil {
		return "", fmt.Errorf("console: issue confirmation: %w", err)
	}
	return token, nil
}

// confirmationLive reports whether the bound token can still be used.
func (c *Console) confirmationLive(ctx context.Context, b confirmationRow) (bool, error) {
	n, err := c.count(ctx, "console_confirmations",
		"token_hash = ? AND session_hash = ? AND action = ? AND target = ? AND values_hash = ? AND expires_at > ?",
		b.TokenHash, b.SessionHash, b.Action, b.Target, b.ValuesHash, c.now())
	return n == 1, err
}

// consume deletes the token in tx; a token that is gone (used by a
// concurrent submission that committed first, or expired) fails with
// errConfirmationUsed and rolls the action back.
func (cf *confirmation) consume(tx *db.Tx, now time.Time) error {
	if cf.usedIn == tx {
		return nil
	}
	b := cf.row
	res := tx.Where("token_hash = ? AND session_hash = ? AND action = ? AND target = ? AND values_hash = ? AND expires_at > ?",
		b.TokenHash, b.SessionHash, b.Action, b.Target, b.ValuesHash, now).Delete(&confirmationRow{})
	if res.Error != nil {
		return fmt.Errorf("console: consume confirmation: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return errConfirmationUsed
	}
	cf.usedIn = tx
	return nil
}
