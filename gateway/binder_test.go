package gateway_test

import (
	"context"
	"errors"
	"github.com/inbound-gateway/inbound/internal/db"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/gateway/cardnet"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/kyc"
)

// TestBindTestCards binds every row of the test-card table (docs/TESTING.md): approvals verify (51, 96 and no-answer cards too, since
// binding verifies with amount zero), declines fail with their decline
// code, and the issuer-authentication card needs the OTP.
func TestBindTestCards(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		for _, tc := range cardnet.TestCards() {
			t.Run(tc.PAN, func(t *testing.T) {
				v := e.anna(t)
				card, err := e.binder.Bind(ctx, e.partner, v, input(tc.PAN))
				switch tc.Verification {
				case gateway.RCApproved:
					if err != nil {
						t.Fatalf("bind: %v", err)
					}
					want := gateway.Card{
						ID: card.ID, VisitorID: v.ID, Network: tc.Network, BIN: tc.PAN[:6], Last4: tc.PAN[len(tc.PAN)-4:],
						ExpMonth: 12, ExpYear: 2030, IssuerCountry: tc.IssuerCountry, Currency: tc.Currency,
						Status: gateway.StatusVerified, CreatedAt: now,
					}
					if diff := cmp.Diff(want, card, cmpopts.IgnoreFields(gateway.Card{}, "HolderNameScore"), cmpopts.EquateComparable(gateway.Network{})); diff != "" {
						t.Errorf("card (-want +got):\n%s", diff)
					}
					if card.HolderNameScore <= 0.9 {
						t.Errorf("holder name score %v", card.HolderNameScore)
					}
					if got := e.events.types(card.ID); !cmp.Equal(got, []string{gateway.EventCardVerified}) {
						t.Errorf("events %v", got)
					}
				case gateway.RCAuthenticationRequired:
					checkChallenge(t, e, v, tc.PAN, card, err)
				default:
					var de *gateway.DeclineError
					if !errors.As(err, &de) || !errors.Is(err, gateway.ErrDeclined) {
						t.Fatalf("bind: want a decline, got %v", err)
					}
					if want := gateway.DeclineFor(tc.Verification).Code; de.Code != want {
						t.Errorf("decline code %s, want %s", de.Code, want)
					}
					list, err := e.binder.List(ctx, e.partner, v.ID)
					if err != nil || len(list) != 0 {
						t.Errorf("list after decline: %v %v", list, err)
					}
				}
			})
		}
	})
}

// checkChallenge finishes the requires_action card: a wrong OTP fails it
// (authentication_failed), binding again gives a new challenge, and the
// right OTP verifies it.
func checkChallenge(t *testing.T, e *env, v gateway.VisitorRef, pan string, card gateway.Card, err error) {
	t.Helper()
	ctx := context.Background()
	if err != nil {
		t.Fatalf("bind: %v", err)
	}
	if card.Status != gateway.StatusRequiresAction || card.NextAction == nil || card.NextAction.Type != gateway.NextActionOTP {
		t.Fatalf("card %+v, want requires_action with next_action otp", card)
	}
	if _, err := e.binder.Verify(ctx, e.partner, v.ID, card.ID, ""); !errors.Is(err, gateway.ErrInvalidOTP) {
		t.Fatalf("empty otp: %v", err)
	}
	// Three wrong OTPs: the first two leave the card waiting with the
	// attempts left, the third fails it.
	for _, left := range []int{2, 1, 0} {
		_, err = e.binder.Verify(ctx, e.partner, v.ID, card.ID, "000000")
		var de *gateway.DeclineError
		var ae *gateway.AuthenticationError
		if !errors.As(err, &de) || de.Code != gateway.DeclineAuthenticationFailed || !errors.As(err, &ae) || ae.Remaining != left {
			t.Fatalf("wrong otp: want authentication_failed with %d left, got %v", left, err)
		}
		if left > 0 {
			if waiting, err := e.binder.Get(ctx, e.partner, v.ID, card.ID); err != nil || waiting.Status != gateway.StatusRequiresAction {
				t.Fatalf("after a wrong otp with %d left: %+v %v", left, waiting, err)
			}
		}
	}
	failed, err := e.binder.Get(ctx, e.partner, v.ID, card.ID)
	if err != nil || failed.Status != gateway.StatusFailed || failed.DeclineCode != gateway.DeclineAuthenticationFailed {
		t.Fatalf("after wrong otp: %+v %v", failed, err)
	}
	if _, err := e.binder.Verify(ctx, e.partner, v.ID, card.ID, cardnet.OTP); !errors.Is(err, gateway.ErrNoActionRequired) {
		t.Fatalf("otp on a failed card: %v", err)
	}

	again := e.bind(t, v, pan)
	if again.ID == card.ID || again.Status != gateway.StatusRequiresAction {
		t.Fatalf("bind again: %+v", again)
	}
	ok, err := e.binder.Verify(ctx, e.partner, v.ID, again.ID, cardnet.OTP)
	if err != nil || ok.Status != gateway.StatusVerified || ok.NextAction != nil || ok.Currency != "USD" {
		t.Fatalf("right otp: %+v %v", ok, err)
	}
	replay, err := e.binder.Verify(ctx, e.partner, v.ID, again.ID, cardnet.OTP)
	if err != nil || replay.ID != ok.ID || replay.Status != gateway.StatusVerified {
		t.Fatalf("verify of a verified card: %+v %v", replay, err)
	}
	if got := e.events.types(again.ID); !cmp.Equal(got, []string{gateway.EventCardVerified}) {
		t.Errorf("events %v", got)
	}
}

func TestBindRefusals(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		anna := e.anna(t)
		review := e.visitor(t, "ERIKSSON", "ANNA MARIA", kyc.StatusReview)
		with := func(pan string, f func(*gateway.CardInput)) gateway.CardInput {
			in := input(pan)
			f(&in)
			return in
		}
		tests := []struct {
			name    string
			visitor gateway.VisitorRef
			in      gateway.CardInput
			want    error
		}{
			{"luhn", anna, input("4242424242424241"), gateway.ErrIncorrectNumber},
			{"letters", anna, input("4242x24242424242"), gateway.ErrIncorrectNumber},
			{"unionpay", anna, input("6250941006528599"), gateway.ErrUnsupportedNetwork},
			{"amex 3-digit cvc", anna, with("378282246310005", func(c *gateway.CardInput) { c.CVC = "123" }), gateway.ErrInvalidCVC},
			{"visa 4-digit cvc", anna, with("4242424242424242", func(c *gateway.CardInput) { c.CVC = "1234" }), gateway.ErrInvalidCVC},
			{"no cvc", anna, with("4242424242424242", func(c *gateway.CardInput) { c.CVC = "" }), gateway.ErrInvalidCVC},
			{"expired", anna, with("4242424242424242", func(c *gateway.CardInput) { c.ExpMonth, c.ExpYear = 10, 2026 }), gateway.ErrInvalidExpiry},
			{"month 13", anna, with("4242424242424242", func(c *gateway.CardInput) { c.ExpMonth = 13 }), gateway.ErrInvalidExpiry},
			{"holder mismatch", anna, with("4242424242424242", func(c *gateway.CardInput) { c.HolderName = "JOHN SMITH" }), gateway.ErrHolderNameMismatch},
			{"visitor in review", review, input("4242424242424242"), gateway.ErrVisitorNotApproved},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := e.binder.Bind(ctx, e.partner, tt.visitor, tt.in)
				if !errors.Is(err, tt.want) {
					t.Fatalf("got %v, want %v", err, tt.want)
				}
			})
		}
		// Nothing was stored for any of them.
		var n int64
		if err := b.DB.Gorm.Table("cards").Count(&n).Error; err != nil || n != 0 {
			t.Fatalf("cards stored: %d %v", n, err)
		}
	})
}

func TestBindHolderNames(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		for _, name := range []string{"ANNA M ERIKSSON", "ERIKSSON ANNA MARIA", "Anna Maria Eriksson", "A M ERIKSSON", "MRS ANNA ERIKSSON"} {
			t.Run(name, func(t *testing.T) {
				in := input("4242424242424242")
				in.HolderName = name
				v := e.anna(t)
				card, err := e.binder.Bind(context.Background(), e.partner, v, in)
				if err != nil || card.Status != gateway.StatusVerified {
					t.Fatalf("%+v %v", card, err)
				}
				if _, err := e.binder.Unbind(context.Background(), e.partner, v.ID, card.ID); err != nil {
					t.Fatal(err)
				}
			})
		}
	})
}

// ownCard is a Luhn-valid Visa number outside the published test-card
// table: somebody's own card, which one visitor at a time may hold.
const ownCard = "4111111111111111"

func TestBindSameCardAndUnbind(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		anna, other := e.anna(t), e.anna(t)
		card := e.bind(t, anna, ownCard)

		again := e.bind(t, anna, ownCard)
		if again.ID != card.ID {
			t.Fatalf("same card on the same visitor: got %s, want %s", again.ID, card.ID)
		}
		if _, err := e.binder.Bind(ctx, e.partner, other, input(ownCard)); !errors.Is(err, gateway.ErrCardBoundElsewhere) {
			t.Fatalf("same card on another visitor: %v", err)
		}
		if _, err := e.binder.Unbind(ctx, e.partner, other.ID, card.ID); !errors.Is(err, gateway.ErrCardNotFound) {
			t.Fatalf("unbind by another visitor: %v", err)
		}
		if _, err := e.binder.Get(ctx, "ptn_other", anna.ID, card.ID); !errors.Is(err, gateway.ErrCardNotFound) {
			t.Fatalf("get by another partner: %v", err)
		}
		removed, err := e.binder.Unbind(ctx, e.partner, anna.ID, card.ID)
		if err != nil || removed.Status != gateway.StatusRemoved {
			t.Fatalf("unbind: %+v %v", removed, err)
		}
		if again, err := e.binder.Unbind(ctx, e.partner, anna.ID, card.ID); err != nil || again.Status != gateway.StatusRemoved {
			t.Fatalf("unbind twice: %+v %v", again, err)
		}
		if list, err := e.binder.List(ctx, e.partner, anna.ID); err != nil || len(list) != 0 {
			t.Fatalf("list after unbind: %v %v", list, err)
		}
		moved := e.bind(t, other, ownCard)
		if moved.ID == card.ID || moved.VisitorID != other.ID {
			t.Fatalf("rebind elsewhere after unbind: %+v", moved)
		}
	})
}

// TestBindTestCardManyVisitors: a published test card binds to any number
// of visitors (each holds it once), and deleting it from one leaves the
// others' bindings alone.
func TestBindTestCardManyVisitors(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		for _, pan := range []string{"4242424242424242", "5555555555554444"} {
			var cards []gateway.Card
			var visitors []gateway.VisitorRef
			for range 3 {
				v := e.anna(t)
				visitors = append(visitors, v)
				cards = append(cards, e.bind(t, v, pan))
			}
			if again := e.bind(t, visitors[1], pan); again.ID != cards[1].ID {
				t.Fatalf("%s: same test card on the same visitor: got %s, want %s", pan, again.ID, cards[1].ID)
			}
			if _, err := e.binder.Unbind(ctx, e.partner, visitors[0].ID, cards[0].ID); err != nil {
				t.Fatal(err)
			}
			for i := 1; i < 3; i++ {
				if c, err := e.binder.Get(ctx, e.partner, visitors[i].ID, cards[i].ID); err != nil || c.Status != gateway.StatusVerified {
					t.Fatalf("%s: visitor %d after another's unbind: %+v %v", pan, i, c, err)
				}
			}
		}
	})
}

// TestDetachVisitorCardsFreesCard: closing a visitor's account (which calls
// DetachVisitorCardsTx in its transaction) ends the bindings, so another
// visitor can bind the card.
func TestDetachVisitorCardsFreesCard(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		anna, other := e.anna(t), e.anna(t)
		card := e.bind(t, anna, ownCard)
		if _, err := e.binder.Bind(ctx, e.partner, other, input(ownCard)); !errors.Is(err, gateway.ErrCardBoundElsewhere) {
			t.Fatalf("before close: %v", err)
		}
		var n int64
		err := e.b.DB.Transact(ctx, func(tx *db.Tx) error {
			var err error
			n, err = gateway.DetachVisitorCardsTx(tx, anna.ID, time.Now())
			return err
		})
		if err != nil || n != 1 {
			t.Fatalf("detach: %d %v", n, err)
		}
		if c, err := e.binder.Get(ctx, e.partner, anna.ID, card.ID); err != nil || c.Status != gateway.StatusRemoved {
			t.Fatalf("detached card: %+v %v", c, err)
		}
		if moved := e.bind(t, other, ownCard); moved.VisitorID != other.ID {
			t.Fatalf("bind after close: %+v", moved)
		}
	})
}

func TestBindLimit(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		v := e.anna(t)
		pans := []string{"4242424242424242", "5555555555554444", "378282246310005", "6011111111111117", "3566002020360505"}
		var cards []gateway.Card
		for i, p := range pans {
			if i == 4 {
				// A declined card is not active and does not count.
				if _, err := e.binder.Bind(ctx, e.partner, v, input("4000000000000002")); !errors.Is(err, gateway.ErrDeclined) {
					t.Fatalf("decline: %v", err)
				}
			}
			cards = append(cards, e.bind(t, v, p))
		}
		if _, err := e.binder.Bind(ctx, e.partner, v, input("4000056655665556")); !errors.Is(err, gateway.ErrTooManyCards) {
			t.Fatalf("sixth card: %v", err)
		}
		list, err := e.binder.List(ctx, e.partner, v.ID)
		if err != nil || len(list) != 5 || list[0].ID != cards[0].ID {
			t.Fatalf("list: %v %v", list, err)
		}
		if _, err := e.binder.Unbind(ctx, e.partner, v.ID, cards[2].ID); err != nil {
			t.Fatal(err)
		}
		e.bind(t, v, "4000056655665556")
	})
}
