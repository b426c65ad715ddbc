package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/inbound-gateway/inbound/gateway/cardnet"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/vault"
	"github.com/inbound-gateway/inbound/kyc"
)

// Errors of card binding. Details are wrapped around them, never a PAN,
// CVC or holder name.
var (
	ErrVisitorNotFound    = errors.New("gateway: visitor not found")
	ErrVisitorNotApproved = errors.New("gateway: visitor is not approved")
	ErrHolderNameMismatch = errors.New("gateway: card holder name does not match the passport")
	// ErrCardBoundElsewhere is a card (not a published test card) that
	// another visitor holds: it is free again once that visitor deletes it
	// or that visitor's account closes.
	ErrCardBoundElsewhere = errors.New("gateway: card is bound to another visitor; to bind it here, delete the card from the other visitor or close that account")
	ErrTooManyCards       = errors.New("gateway: too many active cards")
	ErrCardNotFound       = errors.New("gateway: card not found")
	// ErrBindingInProgress is a second bind of a card whose verification
	// is still in flight.
	ErrBindingInProgress = errors.New("gateway: card verification in progress")
	// ErrNoActionRequired is Verify on a card that is not waiting for an
	// OTP (failed, removed, or still being verified).
	ErrNoActionRequired = errors.New("gateway: card is not waiting for authentication")
	ErrInvalidOTP       = errors.New("gateway: invalid OTP")
)

// Status is a card's binding status.
type Status string

// The statuses of a card.
const (
	// StatusPending is a card whose verification is in flight. It holds
	// the card's fingerprint but is not shown in lists; Repair fails one
	// whose process died.
	StatusPending        Status = "pending"
	StatusVerified       Status = "verified"
	StatusRequiresAction Status = "requires_action"
	StatusFailed         Status = "failed"
	StatusRemoved        Status = "removed"
)

// Active reports whether the status holds the card's fingerprint and
// counts against the visitor's limit.
func (s Status) Active() bool {
	return s == StatusPending || s == StatusVerified || s == StatusRequiresAction
}

// NextActionOTP is the NextAction type of a card waiting for the OTP the
// issuer sent the cardholder.
const NextActionOTP = "otp"

// NextAction tells the partner what the cardholder must do next.
type NextAction struct {
	Type string `json:"type"`
}

// Card is a card bound (or being bound, or once bound) to a visitor. It
// holds nothing PCI DSS forbids showing. The JSON form is the API's card
// object and the data of the card.* events.
type Card struct {
	ID            string      `json:"id"`
	VisitorID     string      `json:"visitor"`
	Network       Network     `json:"network"`
	BIN           string      `json:"-"`
	Last4         string      `json:"last4"`
	ExpMonth      int         `json:"exp_month"`
	ExpYear       int         `json:"exp_year"`
	IssuerCountry string      `json:"issuer_country"`
	Currency      string      `json:"currency"`
	Status        Status      `json:"status"`
	NextAction    *NextAction `json:"next_action,omitempty"`
	// DeclineCode is why a failed card failed.
	DeclineCode string `json:"decline_code,omitempty"`
	// HolderNameScore is how well the holder name matched the passport
	// (kyc.MatchName), for the verified profile's rules.
	HolderNameScore float64   `json:"-"`
	CreatedAt       time.Time `json:"created_at"`
}

// VisitorRef is what binding needs to know of the visitor: the HTTP layer
// loads it (scoped to the partner) from kyc.
type VisitorRef struct {
	ID         string
	Surname    string
	GivenNames string
	Status     kyc.Status
}

// CardInput is a card as the partner sends it. Printing or logging it
// shows only the masked number; the CVC and holder name never.
type CardInput struct {
	Number     string
	ExpMonth   int
	ExpYear    int
	CVC        string
	HolderName string
}

// String hides everything sensitive.
func (in CardInput) String() string {
	return fmt.Sprintf("CardInput{Number: %s, Exp: %02d/%d}", MaskPAN(in.Number), in.ExpMonth, in.ExpYear)
}

// GoString is String, so %#v does not print the fields either.
func (in CardInput) GoString() string { return in.String() }

// Format prints String for every verb.
func (in CardInput) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(in.String())) }

// LogValue makes slog log String.
func (in CardInput) LogValue() slog.Value { return slog.StringValue(in.String()) }

// Events receives the card.verified and card.failed events inside the
// transaction of the change (the webhook service's Emit).
type Events interface {
	Emit(tx *db.Tx, partnerID, typ string, data any) (string, error)
}

// Promoter lifts the visitor of a card just verified to the verified tier
// when the rest of the rule holds (docs/API.md: approved passport, entry
// details, a verified card whose holder name matched), inside the
// transaction that verified the card.
type Promoter interface {
	PromoteTx(tx *db.Tx, visitorID string, now time.Time) error
}

// The events binding emits.
const (
	EventCardVerified = "card.verified"
	EventCardFailed   = "card.failed"
)

// BinderOptions tune a Binder. The zero value is usable.
type BinderOptions struct {
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Logger gets card ids, networks and last four digits; nil discards.
	Logger *slog.Logger
	// MaxCards is the limit of active cards per visitor (default 5).
	MaxCards int
	// RepairGrace is how long a card may stay pending before Repair fails
	// it (default 2 min; more than a verification can take).
	RepairGrace time.Duration
	// Promoter, when set, is the step of the binding flow that lifts the
	// visitor to the verified tier once a card is verified.
	Promoter Promoter
}

// Binder binds visitors' cards: validation, holder name, the card vault,
// verification with the network, OTP, listing and unbinding.
type Binder struct {
	store  store
	vault  *vault.Vault
	client *Client
	events Events
	now    func() time.Time
	log    *slog.Logger
	opts   BinderOptions
}

// NewBinder returns a Binder storing cards in d, sealing PANs with v,
// verifying through c and emitting events to ev (nil for none).
func NewBinder(d *db.DB, v *vault.Vault, c *Client, ev Events, o BinderOptions) *Binder {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxCards <= 0 {
		o.MaxCards = 5
	}
	if o.RepairGrace <= 0 {
		o.RepairGrace = 2 * time.Minute
	}
	return &Binder{store: store{db: d}, vault: v, client: c, events: ev, now: o.Now, log: o.Logger, opts: o}
}

// Bind validates a card, checks the holder name against the passport,
// stores it sealed and verifies it with the network (a zero-amount
// authorisation carrying the CVC, which is not kept).
//
// It returns the card verified, or requires_action with a NextAction otp
// (finish with Verify). Binding a card the visitor already holds returns
// that card. A decline returns a *DeclineError and leaves the card failed,
// so the same card can be bound again.
func (b *Binder) Bind(ctx context.Context, partnerID string, v VisitorRef, in CardInput, then ...db.Then[Card]) (Card, error) {
	pan, err := ParsePAN(in.Number)
	if err != nil {
		return Card{}, err
	}
	now := b.now()
	exp, err := NewExpiry(in.ExpMonth, in.ExpYear, now)
	if err != nil {
		return Card{}, err
	}
	if err := ValidateCVC(pan.Network(), in.CVC); err != nil {
		return Card{}, err
	}
	if v.Status != kyc.StatusApproved {
		return Card{}, fmt.Errorf("%w: status %s", ErrVisitorNotApproved, v.Status)
	}
	score, ok := kyc.MatchName(in.HolderName, v.Surname, v.GivenNames)
	if !ok {
		return Card{}, fmt.Errorf("%w: score %.2f", ErrHolderNameMismatch, score)
	}

	fingerprint := b.vault.Index(panLabel, pan.Number())
	// A published test card binds to any number of visitors; any other
	// card to one visitor at a time.
	testCard := cardnet.IsTestCard(pan.Number())
	scope := ""
	if testCard {
		scope = v.ID
	}
	row := cardRow{
		ID: ids.New(ids.Card), PartnerID: partnerID, VisitorID: v.ID, Status: string(StatusPending),
		Network: pan.Network().String(), BIN: pan.BIN(), Last4: pan.Last4(), ExpMonth: exp.Month(), ExpYear: exp.Year(),
		PANSealed: b.vault.Seal(panLabel, []byte(pan.Number())), Fingerprint: fingerprint,
		TestCard: testCard, HolderNameScore: score, CreatedAt: now.UTC(), UpdatedAt: now.UTC(),
	}
	var existing *Card
	err = b.store.transact(ctx, func(tx *db.Tx) error {
		existing = nil
		if err := b.store.lockVisitor(tx, v.ID); err != nil {
			return err
		}
		cur, err := b.store.activeByFingerprint(tx, fingerprint, scope)
		if err != nil {
			return err
		}
		if cur != nil {
			switch {
			case cur.VisitorID != v.ID:
				return ErrCardBoundElsewhere
			case cur.Status == string(StatusPending):
				return ErrBindingInProgress
			}
			c := toCard(*cur)
			existing = &c
			return db.RunThen(tx, c, then...)
		}
		n, err := b.store.countActive(tx, v.ID)
		if err != nil {
			return err
		}
		if n >= int64(b.opts.MaxCards) {
			return fmt.Errorf("%w: at most %d", ErrTooManyCards, b.opts.MaxCards)
		}
		return b.store.insertCard(tx, row)
	})
	switch {
	case db.IsUniqueViolation(err) && !testCard:
		// Another visitor's bind of the same card committed between our
		// check and our insert (the visitor lock does not cover it).
		return Card{}, ErrCardBoundElsewhere
	case db.IsUniqueViolation(err):
		// Only the visitor's own bind of the card can collide with a test
		// card's; the visitor lock serialises those, so this is a bind
		// racing one that is still in flight.
		return Card{}, ErrBindingInProgress
	case err != nil:
		return Card{}, err
	case existing != nil:
		return *existing, nil
	}

	var out Card
	applied := false
	src := source{cardID: row.ID, pan: pan, expiry: exp}
	_, err = b.client.verify(ctx, src, in.CVC, func(tx *db.Tx, c Call) error {
		applied = true
		return b.applyVerification(ctx, tx, row.ID, StatusPending, c, &out, then)
	})
	if !applied || errors.Is(err, ErrNotRecorded) {
		// No outcome was recorded (circuit open, database trouble): the
		// card must not stay pending.
		b.fail(ctx, row.ID, StatusPending, declineCodeOf(err))
		return Card{}, err
	}
	return b.result(out, err)
}

// result turns the card an exchange left into Bind's or Verify's answer.
func (b *Binder) result(out Card, err error) (Card, error) {
	switch {
	case out.Status == StatusVerified || out.Status == StatusRequiresAction:
		return out, nil
	case err != nil:
		return Card{}, err
	}
	// The card was failed or removed meanwhile (Repair, Unbind).
	return Card{}, &DeclineError{Decline: NoAnswerDecline()}
}

func declineCodeOf(err error) string {
	if d, ok := DeclineForError(err); ok {
		return d.Code
	}
	return DeclineProcessingError
}

// applyVerification moves a card out of status from according to the
// verification call c, inside the transaction recording c's outcome, and
// ends it with then unless the card failed.
func (b *Binder) applyVerification(ctx context.Context, tx *db.Tx, cardID string, from Status, c Call, out *Card, then []db.Then[Card]) error {
	row, err := b.store.cardForUpdate(tx, cardID)
	if err != nil {
		return err
	}
	if Status(row.Status) != from {
		*out = toCard(row)
		return nil
	}
	row.UpdatedAt = b.now().UTC()
	if a := c.Answer; a != nil {
		if a.IssuerCountry != "" {
			row.IssuerCountry = a.IssuerCountry
		}
		if !a.Currency.IsZero() {
			row.Currency = a.Currency.Code()
		}
	}
	row.VerifyCallID, row.ChallengeID, row.DeclineCode = c.ID, "", ""
	switch c.State {
	case StateApproved:
		row.Status = string(StatusVerified)
	case StateChallenged:
		row.Status, row.ChallengeID = string(StatusRequiresAction), c.ChallengeID
	default:
		row.Status, row.DeclineCode = string(StatusFailed), c.DeclineCode
		if row.DeclineCode == "" {
			row.DeclineCode = DeclineCardDeclined
		}
	}
	if err := b.store.saveCard(tx, row); err != nil {
		return err
	}
	*out = toCard(row)
	b.log.InfoContext(ctx, "card verification", "card", row.ID, "visitor", row.VisitorID, "network", row.Network,
		"last4", row.Last4, "status", row.Status, "decline_code", row.DeclineCode, "call", c.ID)
	switch Status(row.Status) {
	case StatusVerified:
		if err := b.promote(tx, row.VisitorID); err != nil {
			return err
		}
		if err := b.emit(tx, row.PartnerID, EventCardVerified, *out); err != nil {
			return err
		}
	case StatusFailed:
		// A decline has no success response to store: no then.
		return b.emit(tx, row.PartnerID, EventCardFailed, *out)
	}
	return db.RunThen(tx, *out, then...)
}

// promote is the tier step of a verified card (BinderOptions.Promoter).
func (b *Binder) promote(tx *db.Tx, visitorID string) error {
	if b.opts.Promoter == nil {
		return nil
	}
	if err := b.opts.Promoter.PromoteTx(tx, visitorID, b.now()); err != nil {
		return fmt.Errorf("gateway: promote visitor %s: %w", visitorID, err)
	}
	return nil
}

func (b *Binder) emit(tx *db.Tx, partnerID, typ string, c Card) error {
	if b.events == nil {
		return nil
	}
	if _, err := b.events.Emit(tx, partnerID, typ, c); err != nil {
		return fmt.Errorf("gateway: emit %s: %w", typ, err)
	}
	return nil
}

// fail marks a card failed if it is still in status from. It is used when
// no outcome could be recorded; errors are logged, and Repair catches what
// is left.
func (b *Binder) fail(ctx context.Context, cardID string, from Status, declineCode string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := b.store.transact(ctx, func(tx *db.Tx) error {
		row, err := b.store.cardForUpdate(tx, cardID)
		if err != nil || Status(row.Status) != from {
			return err
		}
		row.Status, row.DeclineCode, row.UpdatedAt = string(StatusFailed), declineCode, b.now().UTC()
		if err := b.store.saveCard(tx, row); err != nil {
			return err
		}
		return b.emit(tx, row.PartnerID, EventCardFailed, toCard(row))
	})
	if err != nil {
		b.log.ErrorContext(ctx, "card left pending", "card", cardID, "err", err)
	}
}

// Verify completes the issuer authentication of a card in requires_action
// with the OTP the cardholder received.
//
// A wrong OTP is an *AuthenticationError (402 authentication_failed) with
// the attempts left: the card keeps waiting under the same challenge for
// up to MaxOTPAttempts OTPs, and the last wrong one fails it, as a failed
// 3-D Secure fails a SetupIntent; the partner then binds the card again.
// Verifying a card already verified returns it.
func (b *Binder) Verify(ctx context.Context, partnerID, visitorID, cardID, otp string, then ...db.Then[Card]) (Card, error) {
	row, err := b.store.card(ctx, partnerID, visitorID, cardID)
	if err != nil {
		return Card{}, err
	}
	switch Status(row.Status) {
	case StatusVerified:
		return b.replay(ctx, cardID, then)
	case StatusRequiresAction:
	default:
		return Card{}, fmt.Errorf("%w: card is %s", ErrNoActionRequired, row.Status)
	}
	if otp == "" || len(otp) > 12 {
		return Card{}, fmt.Errorf("%w: 1 to 12 characters", ErrInvalidOTP)
	}
	var out Card
	applied := false
	call, err := b.client.Authenticate(ctx, row.VerifyCallID, otp, func(tx *db.Tx, c Call) error {
		applied = true
		return b.applyVerification(ctx, tx, row.ID, StatusRequiresAction, c, &out, then)
	})
	if errors.Is(err, ErrNotChallenged) {
		return Card{}, fmt.Errorf("%w: %w", ErrNoActionRequired, err)
	}
	switch {
	case !applied:
		// The circuit is open or the database failed before the OTP was
		// sent: the challenge still stands, the card keeps waiting.
		return Card{}, err
	case errors.Is(err, ErrNotRecorded):
		b.fail(ctx, row.ID, StatusRequiresAction, declineCodeOf(err))
		return Card{}, err
	case out.Status == StatusRequiresAction && call.State == StateChallenged:
		// A wrong OTP with attempts left: the card keeps waiting.
		return Card{}, OTPResult(true, call, err)
	case out.Status == StatusFailed:
		return Card{}, OTPResult(false, call, err)
	}
	return b.result(out, err)
}

// replay returns a card inside a transaction that ends with then, for the
// idempotent answers of mutating calls.
func (b *Binder) replay(ctx context.Context, cardID string, then []db.Then[Card]) (Card, error) {
	var out Card
	err := b.store.transact(ctx, func(tx *db.Tx) error {
		row, err := b.store.cardForUpdate(tx, cardID)
		if err != nil {
			return err
		}
		out = toCard(row)
		return db.RunThen(tx, out, then...)
	})
	return out, err
}

// Get returns one card of the visitor, in any status.
func (b *Binder) Get(ctx context.Context, partnerID, visitorID, cardID string) (Card, error) {
	row, err := b.store.card(ctx, partnerID, visitorID, cardID)
	if err != nil {
		return Card{}, err
	}
	return toCard(row), nil
}

// List returns the visitor's active cards (verified or requires_action),
// oldest first.
func (b *Binder) List(ctx context.Context, partnerID, visitorID string) ([]Card, error) {
	rows, err := b.store.listCards(ctx, partnerID, visitorID)
	if err != nil {
		return nil, err
	}
	out := make([]Card, len(rows))
	for i, r := range rows {
		out[i] = toCard(r)
	}
	return out, nil
}

// Unbind removes a card: it no longer counts against the limit, its
// fingerprint is free for another binding, and it can no longer pay (a
// refund may still go to it). Unbinding a removed card returns it.
func (b *Binder) Unbind(ctx context.Context, partnerID, visitorID, cardID string, then ...db.Then[Card]) (Card, error) {
	var out Card
	err := b.store.transact(ctx, func(tx *db.Tx) error {
		row, err := b.store.cardForUpdate(tx, cardID)
		if err != nil {
			return err
		}
		if row.PartnerID != partnerID || row.VisitorID != visitorID {
			return ErrCardNotFound
		}
		if row.Status != string(StatusRemoved) {
			row.Status, row.ChallengeID, row.UpdatedAt = string(StatusRemoved), "", b.now().UTC()
			if err := b.store.saveCard(tx, row); err != nil {
				return err
			}
			b.log.InfoContext(ctx, "card removed", "card", row.ID, "visitor", row.VisitorID, "network", row.Network, "last4", row.Last4)
		}
		out = toCard(row)
		return db.RunThen(tx, out, then...)
	})
	return out, err
}

// Repair runs the network client's Repair (reversing calls left without
// outcome) and then fails the cards whose binding died with its process
// (pending for longer than RepairGrace), emitting card.failed. It is safe
// on several replicas at once. It returns how many calls and cards it
// repaired.
func (b *Binder) Repair(ctx context.Context, now time.Time) (int, error) {
	n, err := b.client.Repair(ctx, now)
	if err != nil {
		return n, err
	}
	failed := 0
	err = b.store.transact(ctx, func(tx *db.Tx) error {
		rows, err := b.store.stalePending(tx, now.Add(-b.opts.RepairGrace), 100)
		if err != nil {
			return err
		}
		failed = len(rows)
		for _, row := range rows {
			row.Status, row.DeclineCode, row.UpdatedAt = string(StatusFailed), DeclineIssuerUnavailable, b.now().UTC()
			if err := b.store.saveCard(tx, row); err != nil {
				return err
			}
			if err := b.emit(tx, row.PartnerID, EventCardFailed, toCard(row)); err != nil {
				return err
			}
			b.log.WarnContext(ctx, "pending card failed by repair", "card", row.ID, "visitor", row.VisitorID)
		}
		return nil
	})
	return n + failed, err
}

func toCard(r cardRow) Card {
	n, _ := ParseNetwork(r.Network)
	c := Card{
		ID: r.ID, VisitorID: r.VisitorID, Network: n, BIN: r.BIN, Last4: r.Last4, ExpMonth: r.ExpMonth,
		ExpYear: r.ExpYear, IssuerCountry: r.IssuerCountry, Currency: r.Currency, Status: Status(r.Status),
		DeclineCode: r.DeclineCode, HolderNameScore: r.HolderNameScore, CreatedAt: r.CreatedAt.UTC(),
	}
	if c.Status == StatusRequiresAction {
		c.NextAction = &NextAction{Type: NextActionOTP}
	}
	return c
}

// CardOf returns a card of the partner by id alone (routes such as
// POST /v1/fx/quotes name only the card); another partner's card is
// ErrCardNotFound.
func (b *Binder) CardOf(ctx context.Context, partnerID, cardID string) (Card, error) {
	row, err := b.store.cardByID(ctx, cardID)
	if err != nil {
		return Card{}, err
	}
	if row.PartnerID != partnerID {
		return Card{}, ErrCardNotFound
	}
	return toCard(row), nil
}

// MarshalJSON adds visitor_id, the name every request uses for the
// visitor, beside the deprecated "visitor" kept for a deprecation period.
func (x Card) MarshalJSON() ([]byte, error) {
	type plain Card
	return json.Marshal(struct {
		plain
		VisitorIDName string `json:"visitor_id"`
	}{plain(x), x.VisitorID})
}
