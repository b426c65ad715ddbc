package prepaid_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/prepaid"
)

type events struct{ types []string }

func (e *events) Emit(_ *db.Tx, _, typ string, _ any) (string, error) {
	e.types = append(e.types, typ)
	return "evt_x", nil
}

func TestOpenIsIdempotentAndFreezeRules(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		s := prepaid.NewStore(b.DB)
		now := time.Now().UTC()
		var first, second prepaid.Account
		for i, dst := range []*prepaid.Account{&first, &second} {
			err := b.DB.Transact(ctx, func(tx *gorm.DB) error {
				var err error
				*dst, err = s.OpenTx(tx, "vis_1", "ptn_1", now.Add(time.Duration(i)*time.Hour), 90*24*time.Hour)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if first.ID != second.ID || !first.ExpiresAt.Equal(second.ExpiresAt) || first.Status != prepaid.Active || first.LedgerCode != "visitor:vis_1:prepaid" {
			t.Fatalf("second open changed the account: %+v %+v", first, second)
		}
		if _, err := s.ByVisitor(ctx, "ptn_other", "vis_1"); !errors.Is(err, prepaid.ErrNotFound) {
			t.Fatalf("other partner sees the account: %v", err)
		}
		ev := &events{}
		if _, err := s.SetFrozen(ctx, "vis_1", false, ev); !errors.Is(err, prepaid.ErrInvalidTransition) {
			t.Fatalf("unfreeze active: %v", err)
		}
		a, err := s.SetFrozen(ctx, "vis_1", true, ev)
		if err != nil || a.Status != prepaid.Frozen || !errors.Is(a.CheckUsable(now), prepaid.ErrFrozen) {
			t.Fatalf("freeze: %+v %v", a, err)
		}
		if a, _ := s.ByVisitor(ctx, "ptn_1", "vis_1"); a.Status != prepaid.Frozen {
			t.Fatal("freeze not stored")
		}
		if len(ev.types) != 1 || ev.types[0] != "account.frozen" {
			t.Fatalf("events %v", ev.types)
		}
		if err := first.CheckUsable(first.ExpiresAt); !errors.Is(err, prepaid.ErrExpired) {
			t.Fatalf("past validity: %v", err)
		}
	})
}
