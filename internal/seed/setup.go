package seed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/escrow"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/vault"
)

// hotSlots is the slot count of the accounts every load writes, as in
// prepaid (network, FX positions, revenue).
const hotSlots = 16

// payableShards is escrow's default number of payable accounts per merchant.
const payableShards = 16

// fixed is what every chunk refers to: the partner, its webhook endpoint,
// the merchants and the ledger's system accounts.
type fixed struct {
	partnerID  string
	endpointID string
	// merchants[m] is the merchant id, payables[m][k] its shard k's account.
	merchants []string
	payables  [][]string
	network   string // network:visa:USD
	fxUSD     string // fx:USD
	fxCNY     string // fx:CNY
	fees      string // revenue:fees
	spread    string // revenue:fx_spread
}

// setup writes the few fixed objects with the ledger's own EnsureAccount
// (so their specs are exactly the services') and plain inserts.
func setup(ctx context.Context, d *db.DB, v *vault.Vault, o Options) (fixed, error) {
	l := ledger.New(d)
	var f fixed
	now := o.Now.Add(-time.Duration(o.Days+1) * 24 * time.Hour)
	f.partnerID = ids.New(ids.Partner)
	if err := d.WithContext(ctx).Exec(`INSERT INTO partners (id, name, status, created_at) VALUES (?, ?, 'active', ?)`,
		f.partnerID, fmt.Sprintf("Seed partner (%d visitors)", o.Visitors), now).Error; err != nil {
		return f, fmt.Errorf("seed: partner: %w", err)
	}
	f.endpointID = ids.New(ids.WebhookEndpoint)
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	if err := d.WithContext(ctx).Exec(`INSERT INTO webhook_endpoints (id, partner_id, url, events, description, secret_sealed, status, created_at)
		VALUES (?, ?, 'https://partner.example/webhooks', '*', 'seeded', ?, 'enabled', ?)`,
		f.endpointID, f.partnerID, v.Seal("webhook-secret:"+f.endpointID, []byte("whsec_"+hex.EncodeToString(secret))), now).Error; err != nil {
		return f, fmt.Errorf("seed: webhook endpoint: %w", err)
	}
	hot := func(code string, cur money.Currency, kind ledger.Kind) (string, error) {
		a, err := l.EnsureAccount(ctx, ledger.AccountSpec{Code: code, Currency: cur, Kind: kind, Slots: hotSlots})
		if err != nil {
			return "", fmt.Errorf("seed: account %s: %w", code, err)
		}
		return a.ID, nil
	}
	var err error
	for _, s := range []struct {
		dst  *string
		code string
		cur  money.Currency
		kind ledger.Kind
	}{
		{&f.network, "network:visa:USD", money.USD, ledger.Asset},
		{&f.fxUSD, "fx:USD", money.USD, ledger.Asset},
		{&f.fxCNY, "fx:CNY", money.CNY, ledger.Asset},
		{&f.spread, "revenue:fx_spread", money.CNY, ledger.Revenue},
	} {
		if *s.dst, err = hot(s.code, s.cur, s.kind); err != nil {
			return f, err
		}
	}
	fees, err := l.EnsureAccount(ctx, escrow.FeesSpec)
	if err != nil {
		return f, fmt.Errorf("seed: fees account: %w", err)
	}
	f.fees = fees.ID
	for m := range o.Merchants {
		id := ids.New(ids.Merchant)
		var shards []string
		for k := range payableShards {
			a, err := l.EnsureAccount(ctx, ledger.AccountSpec{Code: escrow.PayableCode(id, k), Currency: money.CNY,
				Kind: ledger.Liability, Owner: id, NoNegative: true})
			if err != nil {
				return f, fmt.Errorf("seed: payable account: %w", err)
			}
			shards = append(shards, a.ID)
		}
		if err := d.WithContext(ctx).Exec(`INSERT INTO escrow_merchants (id, partner_id, name, mcc, payable_accounts, created_at)
			VALUES (?, ?, ?, '5812', ?, ?)`, id, f.partnerID, fmt.Sprintf("Seed merchant %d", m+1), strings.Join(shards, " "), now).Error; err != nil {
			return f, fmt.Errorf("seed: merchant: %w", err)
		}
		f.merchants = append(f.merchants, id)
		f.payables = append(f.payables, shards)
	}
	return f, nil
}
