package cardnet

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/inbound-gateway/inbound/internal/money"

	"github.com/inbound-gateway/inbound/gateway/cardspec"
)

// Errors of Process.
var (
	// ErrNoAnswer means the issuer stays silent: the HTTP handler holds the
	// request until the client gives up. The message is recorded, so a
	// reversal of it is matched.
	ErrNoAnswer = errors.New("cardnet: issuer does not answer")
	// ErrBadMessage is a message the simulator cannot even answer (unknown
	// MTI, STAN or RRN missing or malformed): HTTP 400, nothing recorded.
	ErrBadMessage = errors.New("cardnet: malformed message")
)

// DefaultMaxHang bounds how long an unanswered request is held open when
// the client does not give up first.
const DefaultMaxHang = 30 * time.Second

// Config configures an Engine. The zero Config is a working simulator on
// the wall clock with random seeds.
type Config struct {
	// Now is the clock; tests inject a fixed one. Default time.Now.
	Now func() time.Time
	// Seed makes auth codes, challenge ids and fault dice repeatable; zero
	// picks a random seed.
	Seed uint64
	// MaxHang bounds a no-answer; default DefaultMaxHang.
	MaxHang time.Duration
	// Logger gets one line per message (masked PAN, never CVC or OTP);
	// default discards.
	Logger *slog.Logger
	// DataDir, when set, keeps the state in files there (see persist.go):
	// decided messages, open-to-buy use and settlement survive a restart,
	// so a reconciliation after it shows no false breaks. Open needs it;
	// New ignores it. "" keeps everything in memory.
	DataDir string
	// MaxMessages bounds the decided messages kept in memory; default
	// DefaultMaxMessages.
	MaxMessages int
	// SettlementDays bounds the settlement days kept in memory; default
	// DefaultSettlementDays.
	SettlementDays int
	// CompactEvery is how many journal records trigger a snapshot;
	// default DefaultCompactEvery.
	CompactEvery int
}

// Engine is the simulator: the card networks and their issuers, in memory.
// It is safe for concurrent use. Every message is decided under one mutex,
// which makes open-to-buy checks and duplicate detection exact under
// concurrency; the slow parts (latency, hanging) happen outside it.
type Engine struct {
	now     func() time.Time
	maxHang time.Duration
	log     *slog.Logger
	// panKey keys the HMAC that stands for a PAN in memory: like a real
	// issuer the simulator never keeps a card number in plain text.
	panKey []byte
	// known maps the fingerprints of the test-card table to their rows.
	known map[fingerprint]cardRow

	faults *faultTable

	mu         sync.Mutex
	rng        *mrand.Rand
	cards      map[fingerprint]*cardState
	msgs       map[msgKey]*txn
	tombstones map[msgKey]bool
	challenges map[string]*challenge
	settled    map[string][]Line // by UTC date "YYYY-MM-DD"
	// order is the keys of msgs, oldest first, for eviction past maxMsgs.
	order      []msgKey
	maxMsgs    int
	settleDays int
	// store is the data directory (nil: memory only); dirty collects what
	// the decision in progress changed, for its journal record.
	store *store
	dirty dirtySet
}

// dirtySet is what one decision changed.
type dirtySet struct {
	txns    []*txn
	cards   []fingerprint
	lines   []lineJSON
	tombAdd []keyJSON
	tombDel []keyJSON
}

func (e *Engine) markTxn(t *txn) {
	if t != nil && !slices.Contains(e.dirty.txns, t) {
		e.dirty.txns = append(e.dirty.txns, t)
	}
}

func (e *Engine) markCard(f fingerprint) {
	if !emptyFP(f) && !slices.Contains(e.dirty.cards, f) {
		e.dirty.cards = append(e.dirty.cards, f)
	}
}

// remember records a decided message, replacing an earlier one under the
// same key (a challenge completed under the original STAN and RRN).
func (e *Engine) remember(t *txn) {
	if _, ok := e.msgs[t.key]; !ok {
		e.order = append(e.order, t.key)
	}
	e.msgs[t.key] = t
}

// trim keeps memory bounded: the oldest messages past maxMsgs are
// forgotten, and settlement days past settleDays leave memory (to the data
// directory when there is one). Callers hold e.mu.
func (e *Engine) trim() {
	for len(e.msgs) > e.maxMsgs && len(e.order) > 0 {
		delete(e.msgs, e.order[0])
		e.order = e.order[1:]
	}
	if len(e.order) > 2*e.maxMsgs {
		e.order = slices.Clone(e.order)
	}
	if len(e.tombstones) > e.maxMsgs {
		// Reversals of messages that never came: a late original past
		// this many is too late to matter.
		clear(e.tombstones)
	}
	for len(e.settled) > e.settleDays {
		oldest := ""
		for day := range e.settled {
			if oldest == "" || day < oldest {
				oldest = day
			}
		}
		if e.store != nil {
			if err := e.archiveDay(oldest, e.settled[oldest]); err != nil {
				e.log.Error("cardnet settlement archive failed; the day stays in memory", "day", oldest, "err", err)
				return
			}
		}
		delete(e.settled, oldest)
	}
}

// cardState returns the state of a card by fingerprint, creating it with
// a fresh open-to-buy. Callers hold e.mu.
func (e *Engine) cardState(f fingerprint, row cardRow) *cardState {
	if c, ok := e.cards[f]; ok {
		return c
	}
	cur := money.MustCurrency(row.currency)
	c := &cardState{row: row, cur: cur, limit: OpenToBuy(cur).Minor()}
	e.cards[f] = c
	return c
}

type fingerprint [sha256.Size]byte

// msgKey identifies a message for duplicate detection and matching.
type msgKey struct{ mti, stan, rrn string }

type cardState struct {
	row   cardRow
	cur   money.Currency
	limit int64
	// used is what counts against the limit: holds plus captures less
	// refunds. It may go negative after refunds (a credit balance).
	used int64
}

func (c *cardState) available() int64 { return c.limit - c.used }

type txnKind int

const (
	kindVerify txnKind = iota + 1
	kindAuth
	kindPurchase
	kindCompletion
	kindRefund
	kindReversal
)

type txnStatus int

const (
	statusApproved txnStatus = iota + 1
	statusDeclined
	statusChallenged
	statusUnanswered
	statusReversed
)

// txn is one message the simulator decided, kept to answer repeats and to
// match completions, reversals and refunds against.
type txn struct {
	key       msgKey
	digest    fingerprint // of the message's content, for "same message"
	kind      txnKind
	status    txnStatus
	card      fingerprint
	amount    int64
	held      int64 // of an auth: what it still holds
	refunded  int64 // of a capture: what referenced refunds took back
	completed *txn  // of an auth: its completion
	orig      *txn  // of a referenced refund: the capture it took from
	// silent is set when the issuer did not answer: a repeat is not
	// answered either.
	silent bool
	resp   Response
}

type challenge struct {
	card   fingerprint
	amount int64
	tries  int // wrong OTPs so far
}

// ChallengeTries is how many OTPs a challenge accepts, as issuers' access
// control servers commonly allow: a wrong OTP before the last answers 1A
// again under the same challenge, the last wrong one 63.
const ChallengeTries = 3

// Open returns an Engine whose state lives in cfg.DataDir (created with
// mode 0700 if needed), restored from what an earlier run left there; with
// no DataDir it is New. Close it to write a final snapshot.
func Open(cfg Config) (*Engine, error) {
	e := New(cfg)
	if cfg.DataDir == "" {
		return e, nil
	}
	every := cfg.CompactEvery
	if every <= 0 {
		every = DefaultCompactEvery
	}
	if err := e.openStore(cfg.DataDir, every); err != nil {
		return nil, err
	}
	return e, nil
}

// New returns an Engine with no faults and fresh open-to-buy on every card,
// kept in memory only (Open keeps it in a data directory).
func New(cfg Config) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxHang <= 0 {
		cfg.MaxHang = DefaultMaxHang
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	seed := cfg.Seed
	if seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if cfg.MaxMessages <= 0 {
		cfg.MaxMessages = DefaultMaxMessages
	}
	if cfg.SettlementDays <= 0 {
		cfg.SettlementDays = DefaultSettlementDays
	}
	e := &Engine{
		maxMsgs:    cfg.MaxMessages,
		settleDays: cfg.SettlementDays,
		now:        cfg.Now,
		maxHang:    cfg.MaxHang,
		log:        cfg.Logger,
		panKey:     key,
		known:      make(map[fingerprint]cardRow, len(testCards)),
		faults:     newFaultTable(seed ^ 0x9e3779b97f4a7c15),
		rng:        mrand.New(mrand.NewPCG(seed, seed>>1|1)), //nolint:gosec // simulated issuer behaviour (approval codes, latency), seeded so runs can be replayed; no secret comes from it
		cards:      map[fingerprint]*cardState{},
		msgs:       map[msgKey]*txn{},
		tombstones: map[msgKey]bool{},
		challenges: map[string]*challenge{},
		settled:    map[string][]Line{},
	}
	for _, r := range testCards {
		e.known[e.fingerprint(r.pan)] = r
	}
	return e
}

func (e *Engine) fingerprint(pan string) fingerprint {
	m := hmac.New(sha256.New, e.panKey)
	_, _ = m.Write([]byte(pan))
	var f fingerprint
	copy(f[:], m.Sum(nil))
	return f
}

// digest fingerprints what makes two messages "the same": everything but
// the CVC and the authentication fields, which a client legitimately adds
// when it completes a challenge.
func (e *Engine) digest(m Message) fingerprint {
	m.CVC, m.OTP, m.ChallengeID = "", "", ""
	var o Original
	if m.Original != nil {
		o = *m.Original
	}
	s := fmt.Sprintf("%q|%q|%q|%q|%q|%q|%q|%q|%q|%q|%q|%q|%q", m.MTI, m.ProcessingCode, m.PAN, m.Expiry,
		m.Amount, m.Currency, m.STAN, m.RRN, m.Network, o.MTI, o.STAN, o.RRN, o.AuthCode)
	return e.fingerprint(s)
}

// card returns the state of the card with this PAN, creating it on first
// use. Callers hold e.mu.
func (e *Engine) card(pan cardspec.PAN) *cardState {
	f := e.fingerprint(pan.Number())
	if c, ok := e.cards[f]; ok {
		return c
	}
	row, ok := e.known[f]
	if !ok {
		row = defaultProfile(pan.Network())
	}
	return e.cardState(f, row)
}

// Process decides one message. A malformed envelope is ErrBadMessage; an
// issuer that stays silent is ErrNoAnswer; every other outcome, declines and
// field errors included, is a Response.
func (e *Engine) Process(ctx context.Context, m Message) (Response, error) {
	if err := ctx.Err(); err != nil {
		return Response{}, fmt.Errorf("cardnet: %w", err)
	}
	respMTI, ok := responseMTI[m.MTI]
	if !ok {
		return Response{}, fmt.Errorf("%w: unknown mti %q", ErrBadMessage, m.MTI)
	}
	if m.MTI == MTIEcho {
		return e.echo(m, respMTI)
	}
	if !isDigits(m.STAN, 6) {
		return Response{}, fmt.Errorf("%w: stan must be 6 digits", ErrBadMessage)
	}
	if !isRRN(m.RRN) {
		return Response{}, fmt.Errorf("%w: rrn must be 12 letters or digits", ErrBadMessage)
	}

	e.mu.Lock()
	t, err := e.decide(m, respMTI)
	e.trim()
	e.persist()
	e.mu.Unlock()

	e.log.LogAttrs(ctx, slog.LevelInfo, "message",
		slog.String("mti", m.MTI), slog.String("processing_code", m.ProcessingCode),
		slog.String("stan", m.STAN), slog.String("rrn", m.RRN), slog.String("pan", cardspec.MaskPAN(m.PAN)),
		slog.String("amount", m.Amount), slog.String("currency", m.Currency),
		slog.String("response_code", t.resp.ResponseCode), slog.Bool("replayed", t.resp.Replayed),
		slog.Bool("no_answer", errors.Is(err, ErrNoAnswer)))
	return t.resp, err
}

var responseMTI = map[string]string{
	MTIAuthorization: "0110",
	MTIFinancial:     "0210",
	MTICompletion:    "0230",
	MTIReversal:      "0410",
	MTIEcho:          "0810",
}

func (e *Engine) echo(m Message, respMTI string) (Response, error) {
	r := Response{MTI: respMTI, STAN: m.STAN, RRN: m.RRN, ResponseCode: cardspec.RCApproved, Network: m.Network}
	if m.Network != "" {
		if _, err := cardspec.ParseNetwork(m.Network); err != nil {
			r.ResponseCode, r.Message = cardspec.RCFormatError, "unknown network"
		}
	}
	return r, nil
}

// decide runs under e.mu. It returns the transaction the message is
// recorded as (a throwaway one for answers that are not recorded).
func (e *Engine) decide(m Message, respMTI string) (*txn, error) {
	key := msgKey{m.MTI, m.STAN, m.RRN}
	digest := e.digest(m)
	base := Response{MTI: respMTI, STAN: m.STAN, RRN: m.RRN}

	if prev, ok := e.msgs[key]; ok {
		if prev.digest != digest {
			// Same STAN and RRN, different content: a client bug, never
			// a repeat. Answered, not recorded.
			r := base
			r.ResponseCode, r.Message = cardspec.RCDuplicateTransmission, "stan and rrn already used for another message"
			return &txn{resp: r}, nil
		}
		switch {
		case prev.status == statusChallenged && m.OTP != "":
			// The client completes the challenge under the same STAN/RRN.
			if m.ChallengeID == "" {
				m.ChallengeID = prev.resp.ChallengeID
			}
		case prev.silent:
			return prev, ErrNoAnswer
		default:
			r := prev.resp
			r.Replayed = true
			return &txn{resp: r}, nil
		}
	}

	t := &txn{key: key, digest: digest}
	if e.tombstones[key] && m.MTI != MTIReversal {
		// A reversal came first: the original arrived too late and must
		// not take effect.
		delete(e.tombstones, key)
		e.dirty.tombDel = append(e.dirty.tombDel, toKeyJSON(key))
		t.status = statusReversed
		t.resp = decline(base, cardspec.RCInvalidTransaction, "reversed before it arrived")
		e.remember(t)
		e.markTxn(t)
		return t, nil
	}
	var err error
	switch {
	case m.MTI == MTIAuthorization:
		err = e.authorize(t, m, base)
	case m.MTI == MTIFinancial && m.ProcessingCode == ProcessingRefund:
		e.refund(t, m, base)
	case m.MTI == MTIFinancial:
		err = e.authorize(t, m, base)
	case m.MTI == MTICompletion:
		e.complete(t, m, base)
	case m.MTI == MTIReversal:
		e.reverse(t, m, base)
	}
	e.remember(t)
	e.markTxn(t)
	e.markTxn(t.orig)
	e.markCard(t.card)
	return t, err
}

// Processing codes (ISO 8583 field 3, first two digits) of an 0200.
const (
	ProcessingPurchase = "00"
	ProcessingRefund   = "20"
)

// cardFor validates the PAN and fills the card details of the answer.
func (e *Engine) cardFor(t *txn, m Message, r *Response) (*cardState, bool) {
	pan, err := cardspec.ParsePAN(m.PAN)
	if err != nil {
		code := cardspec.RCInvalidCardNumber
		if errors.Is(err, cardspec.ErrUnsupportedNetwork) {
			code = cardspec.RCNoSuchIssuer
		}
		t.status = statusDeclined
		*r = decline(*r, code, "card number not valid for any network")
		return nil, false
	}
	c := e.card(pan)
	t.card = e.fingerprint(pan.Number())
	r.Network, r.IssuerCountry, r.BillingCurrency = c.row.network.String(), c.row.country, c.cur.Code()
	return c, true
}

// amountFor parses field 4 and 49 against the card's billing currency.
// zeroOK allows an account verification; its currency may be absent.
func amountFor(m Message, c *cardState, zeroOK bool) (int64, string, string) {
	if !isDigitsUpTo(m.Amount, 12) {
		return 0, cardspec.RCFormatError, "amount must be 1 to 12 digits of minor units"
	}
	v, _ := strconv.ParseInt(m.Amount, 10, 64)
	if v == 0 {
		if !zeroOK {
			return 0, cardspec.RCInvalidAmount, "amount must be above zero"
		}
		return 0, "", ""
	}
	if m.Currency != c.cur.Code() {
		return 0, cardspec.RCInvalidAmount, fmt.Sprintf("currency %q is not the card's billing currency %s", m.Currency, c.cur.Code())
	}
	return v, "", ""
}

// authorize handles an 0100 (authorisation or verification) and an 0200
// purchase (authorise and capture at once).
func (e *Engine) authorize(t *txn, m Message, r Response) error {
	purchase := m.MTI == MTIFinancial
	switch {
	case purchase && m.ProcessingCode != ProcessingPurchase:
		t.status, t.resp = statusDeclined, decline(r, cardspec.RCInvalidTransaction, "processing code must be 00 or 20")
		return nil
	case !purchase && m.ProcessingCode != "" && m.ProcessingCode != ProcessingPurchase:
		t.status, t.resp = statusDeclined, decline(r, cardspec.RCInvalidTransaction, "processing code must be 00")
		return nil
	}
	c, ok := e.cardFor(t, m, &r)
	if !ok {
		t.resp = r
		return nil
	}
	amount, code, why := amountFor(m, c, !purchase)
	if code == "" {
		code, why = checkCard(m, c, e.now())
	}
	if code == "" {
		code, why = c.row.outcome.declineAll, "declined by the issuer"
	}
	if code == "" && amount > 0 {
		if c.row.outcome.noAnswer {
			t.kind, t.status, t.amount, t.silent = kindAuth, statusUnanswered, amount, true
			if purchase {
				t.kind = kindPurchase
			}
			t.resp = r
			return ErrNoAnswer
		}
		code, why = c.row.outcome.declineAmount, "declined by the issuer"
	}
	if code == "" && c.row.outcome.challenge {
		var challenged bool
		code, why, challenged = e.authenticate(t, m, &r, amount)
		if challenged {
			t.kind, t.status, t.amount, t.resp = kindAuth, statusChallenged, amount, r
			return nil
		}
	}
	if code == "" && amount > c.available() {
		code, why = cardspec.RCInsufficientFunds, "over the open-to-buy"
	}
	if code != "" {
		t.status, t.resp = statusDeclined, decline(r, code, why)
		return nil
	}

	t.status, t.amount = statusApproved, amount
	r.ResponseCode, r.AuthCode, r.Amount, r.Currency = cardspec.RCApproved, e.authCode(), m.Amount, c.cur.Code()
	switch {
	case amount == 0:
		t.kind = kindVerify
		r.Message = "account verified"
	case purchase:
		t.kind = kindPurchase
		c.used += amount
		e.settle(t, m, c, LineCapture, "", r.AuthCode)
		r.Message = "approved and captured"
	default:
		t.kind, t.held = kindAuth, amount
		c.used += amount
		r.Message = "approved"
	}
	r.Available = strconv.FormatInt(c.available(), 10)
	t.resp = r
	return nil
}

// checkCard checks expiry and CVC format as the issuer would.
func checkCard(m Message, c *cardState, now time.Time) (string, string) {
	exp, err := cardspec.ParseYYMM(m.Expiry)
	if err != nil {
		return cardspec.RCFormatError, "expiry must be YYMM"
	}
	if exp.ExpiredAt(now) {
		return cardspec.RCExpiredCard, "card expired"
	}
	if m.CVC != "" && cardspec.ValidateCVC(c.row.network, m.CVC) != nil {
		return cardspec.RCIncorrectCVC, "cvc has the wrong format"
	}
	return "", ""
}

// authenticate runs the OTP challenge of the issuer-authentication card.
// Without an OTP it issues a challenge (challenged); with the right one it
// consumes the challenge and lets the message be decided; a wrong one
// keeps the challenge open (challenged again) until ChallengeTries wrong
// OTPs, and the last declines with 63.
func (e *Engine) authenticate(t *txn, m Message, r *Response, amount int64) (code, why string, challenged bool) {
	if m.OTP == "" {
		id := newChallengeID()
		e.challenges[id] = &challenge{card: t.card, amount: amount}
		r.ResponseCode, r.ChallengeID, r.Message = cardspec.RCAuthenticationRequired, id, "issuer authentication required: resend with challenge_id and otp"
		return "", "", true
	}
	ch, ok := e.challenges[m.ChallengeID]
	if !ok || ch.card != t.card || ch.amount != amount {
		return cardspec.RCSecurityViolation, "unknown challenge", false
	}
	if m.OTP != OTP {
		ch.tries++
		if ch.tries < ChallengeTries {
			r.ResponseCode, r.ChallengeID = cardspec.RCAuthenticationRequired, m.ChallengeID
			r.Message = fmt.Sprintf("wrong otp: %d tries left", ChallengeTries-ch.tries)
			return "", "", true
		}
		delete(e.challenges, m.ChallengeID)
		return cardspec.RCSecurityViolation, "issuer authentication failed", false
	}
	delete(e.challenges, m.ChallengeID)
	return "", "", false
}

// newChallengeID returns 128 bits from crypto/rand. The id is what ties an
// OTP to the challenged message, so it must not be guessable; the seeded
// generator that makes faults and auth codes reproducible would make it so.
func newChallengeID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "chl_" + hex.EncodeToString(b)
}

// complete handles an 0220: the capture of an earlier authorisation, for
// at most the authorised amount; the rest of the hold is released.
func (e *Engine) complete(t *txn, m Message, r Response) {
	c, ok := e.cardFor(t, m, &r)
	if !ok {
		t.resp = r
		return
	}
	t.status = statusDeclined
	amount, code, why := amountFor(m, c, false)
	if code != "" {
		t.resp = decline(r, code, why)
		return
	}
	if m.Original == nil {
		t.resp = decline(r, cardspec.RCFormatError, "original (mti, stan, rrn, auth_code) required")
		return
	}
	auth, ok := e.msgs[msgKey{MTIAuthorization, m.Original.STAN, m.Original.RRN}]
	switch {
	case !ok || m.Original.MTI != MTIAuthorization || auth.kind != kindAuth || auth.card != t.card:
		code, why = cardspec.RCInvalidTransaction, "original authorisation not found"
	case auth.status != statusApproved || auth.completed != nil:
		code, why = cardspec.RCInvalidTransaction, "original authorisation already completed, reversed or not approved"
	case m.Original.AuthCode != auth.resp.AuthCode:
		code, why = cardspec.RCInvalidTransaction, "auth code does not match the original"
	case amount > auth.amount:
		code, why = cardspec.RCInvalidAmount, "amount above the authorised amount"
	}
	if code != "" {
		t.resp = decline(r, code, why)
		return
	}
	c.used += amount - auth.held
	auth.held, auth.completed = 0, t
	e.markTxn(auth)
	t.kind, t.status, t.amount = kindCompletion, statusApproved, amount
	r.ResponseCode, r.AuthCode, r.Amount, r.Currency = cardspec.RCApproved, auth.resp.AuthCode, m.Amount, c.cur.Code()
	r.Message, r.Available = "captured", strconv.FormatInt(c.available(), 10)
	e.settle(t, m, c, LineCapture, "", r.AuthCode)
	t.resp = r
}

// refund handles an 0200 with processing code 20: a credit to the card.
// With an original it may not return more than that capture took.
func (e *Engine) refund(t *txn, m Message, r Response) {
	c, ok := e.cardFor(t, m, &r)
	if !ok {
		t.resp = r
		return
	}
	t.status = statusDeclined
	amount, code, why := amountFor(m, c, false)
	if code != "" {
		t.resp = decline(r, code, why)
		return
	}
	if m.Original != nil {
		o, ok := e.msgs[msgKey{m.Original.MTI, m.Original.STAN, m.Original.RRN}]
		switch {
		case !ok || o.card != t.card || (o.kind != kindPurchase && o.kind != kindCompletion):
			t.resp = decline(r, cardspec.RCInvalidTransaction, "original capture not found")
			return
		case o.status != statusApproved:
			t.resp = decline(r, cardspec.RCInvalidTransaction, "original capture was reversed")
			return
		case amount > o.amount-o.refunded:
			t.resp = decline(r, cardspec.RCInvalidAmount, "amount above what is left to refund")
			return
		}
		o.refunded += amount
		t.orig = o
	}
	c.used -= amount
	t.kind, t.status, t.amount = kindRefund, statusApproved, amount
	r.ResponseCode, r.AuthCode, r.Amount, r.Currency = cardspec.RCApproved, e.authCode(), m.Amount, c.cur.Code()
	r.Message, r.Available = "refunded", strconv.FormatInt(c.available(), 10)
	e.settle(t, m, c, LineRefund, "", r.AuthCode)
	t.resp = r
}

// reverse handles an 0400. It is acknowledged (00) whenever nothing of the
// original stands afterwards, including when the original never arrived:
// then a tombstone stops it from taking effect should it arrive late.
func (e *Engine) reverse(t *txn, m Message, r Response) {
	c, ok := e.cardFor(t, m, &r)
	if !ok {
		t.resp = r
		return
	}
	t.kind, t.status = kindReversal, statusDeclined
	if m.Original == nil || m.Original.STAN == "" || m.Original.RRN == "" {
		t.resp = decline(r, cardspec.RCFormatError, "original (mti, stan, rrn) required")
		return
	}
	if m.Original.MTI == MTIReversal || m.Original.MTI == MTIEcho || responseMTI[m.Original.MTI] == "" {
		t.resp = decline(r, cardspec.RCInvalidTransaction, "only 0100, 0200 and 0220 can be reversed")
		return
	}
	okKey := msgKey{m.Original.MTI, m.Original.STAN, m.Original.RRN}
	o, found := e.msgs[okKey]
	if found && o.card != t.card {
		t.resp = decline(r, cardspec.RCInvalidTransaction, "card does not match the original")
		return
	}
	var amount int64
	if m.Amount != "" {
		if !isDigitsUpTo(m.Amount, 12) {
			t.resp = decline(r, cardspec.RCFormatError, "amount must be 1 to 12 digits of minor units")
			return
		}
		amount, _ = strconv.ParseInt(m.Amount, 10, 64)
		if found && amount != 0 && amount != o.amount {
			t.resp = decline(r, cardspec.RCInvalidAmount, "only full reversals: amount must equal the original")
			return
		}
	}

	msg := "reversed"
	switch {
	case !found:
		e.tombstones[okKey] = true
		e.dirty.tombAdd = append(e.dirty.tombAdd, toKeyJSON(okKey))
		msg = "original not received; it will not take effect"
	case o.status == statusReversed:
		msg = "already reversed"
	case o.kind == kindAuth && o.completed != nil && o.completed.status != statusReversed:
		t.resp = decline(r, cardspec.RCInvalidTransaction, "authorisation already captured: reverse the completion")
		return
	default:
		t.amount = o.amount
		if o.status == statusApproved {
			e.undo(o)
			switch o.kind {
			case kindPurchase, kindCompletion:
				e.settle(t, m, c, LineReversal, LineCapture, o.resp.AuthCode)
			case kindRefund:
				e.settle(t, m, c, LineReversal, LineRefund, o.resp.AuthCode)
			}
		}
		o.status = statusReversed
		e.markTxn(o)
		e.markTxn(o.orig)
		e.markCard(o.card)
	}
	t.status = statusApproved
	r.ResponseCode, r.Message = cardspec.RCApproved, msg
	r.Available = strconv.FormatInt(c.available(), 10)
	t.resp = r
}

// undo takes back the effect of an approved message on its card.
func (e *Engine) undo(o *txn) {
	c, ok := e.cards[o.card]
	if !ok {
		return
	}
	switch o.kind {
	case kindAuth:
		c.used -= o.held
		o.held = 0
	case kindPurchase, kindCompletion:
		c.used -= o.amount
	case kindRefund:
		c.used += o.amount
		if o.orig != nil {
			o.orig.refunded -= o.amount
		}
	}
}

// decline is base with a non-approval.
func decline(base Response, code, why string) Response {
	r := base
	r.ResponseCode, r.Message, r.AuthCode, r.ChallengeID = code, why, "", ""
	return r
}

const authCodeAlphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"

// authCode is a six-character approval code (field 38). Callers hold e.mu.
func (e *Engine) authCode() string {
	b := make([]byte, 6)
	for i := range b {
		b[i] = authCodeAlphabet[e.rng.IntN(len(authCodeAlphabet))]
	}
	return string(b)
}

func isDigits(s string, n int) bool {
	return len(s) == n && isDigitsUpTo(s, n)
}

func isDigitsUpTo(s string, n int) bool {
	if s == "" || len(s) > n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isRRN(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		digit, upper, lower := '0' <= c && c <= '9', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z'
		if !digit && !upper && !lower {
			return false
		}
	}
	return true
}
