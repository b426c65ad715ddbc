package httpapi

import (
	"errors"
	"fmt"
	"time"

	"github.com/inbound-gateway/inbound/fx"
	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/internal/adjustment"
	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/escrow"
	"github.com/inbound-gateway/inbound/internal/idempotency"
	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/recon"
	"github.com/inbound-gateway/inbound/internal/vault"
	"github.com/inbound-gateway/inbound/internal/webhook"
	"github.com/inbound-gateway/inbound/kyc"
	"github.com/inbound-gateway/inbound/prepaid"
)

// Error types of docs/API.md.
const (
	typeInvalidRequest = "invalid_request_error"
	typeAuthentication = "authentication_error"
	typePermission     = "permission_error"
	typeNotFound       = "not_found"
	typeConflict       = "conflict"
	typeIdempotency    = "idempotency_error"
	typeKYC            = "kyc_error"
	typeLimit          = "limit_error"
	typeCard           = "card_error"
	typeRateLimit      = "rate_limit_error"
	typeAPI            = "api_error"
)

// ErrorCode is an error code of the catalogue: stable API surface
// (docs/API.md), one per kind of client-visible failure.
type ErrorCode string

// The codes the server itself branches on; every other code is named by
// its entry in the catalogue.
const (
	CodeQuoteExpired       ErrorCode = "quote_expired"
	CodeServiceUnavailable ErrorCode = "service_unavailable"
	CodeInternalError      ErrorCode = "internal_error"
)

// apiError is an error as the client sees it.
type apiError struct {
	Status      int            `json:"-"`
	Type        string         `json:"type"`
	Code        ErrorCode      `json:"code"`
	Message     string         `json:"message"`
	Param       string         `json:"param,omitempty"`
	DeclineCode string         `json:"decline_code,omitempty"`
	RequestID   string         `json:"request_id"`
	Extra       map[string]any `json:"-"`
}

func (e *apiError) Error() string { return string(e.Code) + ": " + e.Message }

// code is an entry of the catalogue: every code the API can return, with
// its status, type and default message. Codes are stable API surface.
type code struct {
	status  int
	typ     string
	message string
}

var catalogue = map[ErrorCode]code{
	"invalid_json":                {400, typeInvalidRequest, "The request body is not valid JSON."},
	"unknown_field":               {400, typeInvalidRequest, "The request has a field this endpoint does not take."},
	"parameter_missing":           {400, typeInvalidRequest, "A required parameter is missing."},
	"parameter_invalid":           {400, typeInvalidRequest, "A parameter has an invalid value."},
	"amount_invalid":              {400, typeInvalidRequest, "The amount is not a valid money value for its currency."},
	"currency_unsupported":        {400, typeInvalidRequest, "The currency is not supported."},
	"idempotency_key_missing":     {400, typeInvalidRequest, "This request needs an Idempotency-Key header."},
	"idempotency_key_invalid":     {400, typeInvalidRequest, "The Idempotency-Key header must be 1-255 printable ASCII characters."},
	"request_too_large":           {413, typeInvalidRequest, "The request body is too large."},
	"method_not_allowed":          {405, typeInvalidRequest, "This method is not allowed on this path."},
	"route_not_found":             {404, typeNotFound, "No such route. GET / lists where the API description (/openapi.json) and the documentation are."},
	"resource_missing":            {404, typeNotFound, "No such object."},
	"unauthenticated":             {401, typeAuthentication, "Invalid API key provided."},
	"forbidden":                   {403, typePermission, "Your role does not allow this action."},
	"mrz_invalid":                 {400, typeInvalidRequest, "The MRZ is malformed."},
	"mrz_check_digit":             {400, typeInvalidRequest, "An MRZ check digit does not match its field."},
	"duplicate_document":          {409, typeConflict, "This document is already registered."},
	"invalid_state":               {409, typeConflict, "The object is not in a state that allows this action."},
	"account_frozen":              {403, typePermission, "The account is frozen."},
	"account_expired":             {403, typePermission, "The account has expired."},
	"account_closed":              {403, typePermission, "The account is closed."},
	"fx_rates_stale":              {503, typeAPI, "Exchange rates are stale; quotes are paused. Retry later."},
	"quote_expired":               {409, typeConflict, "The quote has expired or was already used; request a new quote (POST /v1/fx/quotes) and use it before it expires."},
	"incorrect_number":            {400, typeInvalidRequest, "The card number is incorrect."},
	"unsupported_network":         {400, typeInvalidRequest, "Only Visa, Mastercard, American Express, Discover and JCB cards are supported."},
	"invalid_expiry":              {400, typeInvalidRequest, "The card's expiry date is invalid or in the past."},
	"invalid_cvc":                 {400, typeInvalidRequest, "The card's security code has the wrong length."},
	"otp_invalid":                 {400, typeInvalidRequest, "The one-time password is malformed."},
	"holder_name_mismatch":        {422, typeKYC, "The card holder name does not match the passport name."},
	"visitor_not_approved":        {422, typeKYC, "The visitor's KYC is not approved."},
	"too_many_cards":              {422, typeLimit, "The visitor already has the maximum of 5 active cards."},
	"card_bound_elsewhere":        {409, typeConflict, "This card is bound to another visitor; to bind it here, delete the card from the other visitor or close that account."},
	"card_binding_in_progress":    {409, typeConflict, "This card's verification is still in progress; retry shortly."},
	"no_action_required":          {409, typeConflict, "The card is not waiting for authentication."},
	"card_not_usable":             {409, typeConflict, "The card is not verified."},
	"approver_is_proposer":        {403, typePermission, "The approver must be a different supervisor than the proposer."},
	"approver_not_independent":    {403, typePermission, "The approver was created by the proposer, or one of them has seen the other's token; another supervisor must approve."},
	"approver_too_recent":         {403, typePermission, "The approver must have been an active supervisor before the proposal was made."},
	"last_supervisor":             {409, typeConflict, "The last active supervisor cannot be disabled."},
	"amount_above_ceiling":        {400, typeInvalidRequest, "The amount is above the ceiling of one adjustment."},
	"adjustment_account_closed":   {409, typeConflict, "The account is closed; it takes no adjustments."},
	"insufficient_funds":          {402, typeCard, "The available balance is too low."},
	"limit_exceeded":              {422, typeLimit, "The load would exceed a limit of the account."},
	"quote_mismatch":              {400, typeInvalidRequest, "The quote is not for this card or visitor."},
	"unload_in_progress":          {409, typeConflict, "An unload of this account is in progress."},
	"unload_exceeds_card_room":    {422, typeLimit, "A card gets back at most what it paid in, net of earlier refunds; the unload exceeds that room."},
	"account_busy":                {409, typeConflict, "The account cannot close while a load is in flight or a payment is held in escrow."},
	"nothing_to_unload":           {409, typeConflict, "The account has no available balance to unload."},
	"outcome_pending":             {503, typeAPI, "The card network's answer is not known yet; it will be settled shortly. Retry with the same Idempotency-Key."},
	"out_trade_no_conflict":       {409, typeConflict, "This out_trade_no was used for a different payment."},
	"merchant_insufficient_funds": {402, typeCard, "The merchant's balance is too low for this refund."},
	"card_declined":               {402, typeCard, "The card was declined."},
	"authentication_failed":       {402, typeCard, "The one-time password is wrong."},
	"url_not_allowed":             {400, typeInvalidRequest, "Webhook URLs must be public addresses."},
	"endpoint_limit_reached":      {409, typeConflict, "The partner already has the maximum number of webhook endpoints."},
	"idempotency_in_progress":     {409, typeConflict, "A request with this Idempotency-Key is still being processed; retry later."},
	"idempotency_key_reused":      {422, typeIdempotency, msgKeyReused},
	"rate_limited":                {429, typeRateLimit, "Too many requests; slow down and retry after the Retry-After delay."},
	"internal_error":              {500, typeAPI, "Something went wrong on our side. It has been logged; retry with the same Idempotency-Key."},
	"service_unavailable":         {503, typeAPI, "The service is temporarily unavailable."},
}

// mapping ties a domain sentinel to a catalogue code: the one table of the
// error model. Matching is errors.Is only. The client reads the
// catalogue's message unless the mapping names a more precise one; a
// sentinel's own text is written for operators and logs, never shown.
type mapping struct {
	err   error
	code  ErrorCode
	param string
	// plain takes nothing from the error chain (no param, no detail): the
	// chain of these errors is about the server, not the request.
	plain bool
	// message, when set, is what the client reads instead of the
	// catalogue's message: where the code is generic (parameter_invalid,
	// invalid_state, resource_missing) and the client needs to know which
	// rule or object it is.
	message string
}

var errorTable = []mapping{
	// The middleware tells a missing key from a wrong one (authError).
	{err: auth.ErrUnauthenticated, code: "unauthenticated", plain: true},
	{err: auth.ErrForbidden, code: "forbidden"},
	{err: auth.ErrNotFound, code: "resource_missing"},
	{err: auth.ErrInvalidRole, code: "parameter_invalid", message: "Role must be viewer, agent or supervisor."},
	{err: auth.ErrInvalidName, code: "parameter_invalid", param: "name", message: "Name must be 1-200 characters."},
	{err: auth.ErrInvalidState, code: "invalid_state", message: "The staff member's status does not allow this."},
	{err: auth.ErrLastSupervisor, code: "last_supervisor"},
	{err: auth.ErrApproverIsProposer, code: "approver_is_proposer"},
	{err: auth.ErrApproverNotIndependent, code: "approver_not_independent"},
	{err: auth.ErrApproverTooRecent, code: "approver_too_recent"},
	{err: idempotency.ErrKeyReused, code: "idempotency_key_reused", message: msgKeyReused},
	{err: idempotency.ErrInProgress, code: "idempotency_in_progress"},
	{err: idempotency.ErrKeyMissing, code: "idempotency_key_missing"},
	{err: idempotency.ErrKeyInvalid, code: "idempotency_key_invalid"},
	{err: money.ErrUnsupportedCurrency, code: "currency_unsupported"},
	{err: money.ErrInvalid, code: "amount_invalid"},
	{err: money.ErrTooPrecise, code: "amount_invalid", message: "The amount has more decimal places than its currency allows."},
	{err: money.ErrNotPositive, code: "amount_invalid", message: "The amount must be positive."},
	{err: money.ErrOverflow, code: "amount_invalid", message: "The amount is out of range."},
	{err: money.ErrCurrencyMismatch, code: "amount_invalid", message: "The currencies differ."},
	{err: kyc.ErrMRZInvalid, code: "mrz_invalid", param: "mrz"},
	{err: kyc.ErrMRZCheckDigit, code: "mrz_check_digit", param: "mrz"},
	{err: kyc.ErrEntryInvalid, code: "parameter_invalid", param: "entry", message: "The entry details are invalid."},
	{err: kyc.ErrNotFound, code: "resource_missing"},
	{err: kyc.ErrDuplicateDocument, code: "duplicate_document"},
	{err: kyc.ErrDocumentNotHeld, code: "invalid_state", message: "The visitor holds no claim on its document."},
	{err: kyc.ErrInvalidRelease, code: "parameter_invalid", param: "reason", message: "A document release needs a reason."},
	{err: kyc.ErrReviewClosed, code: "invalid_state", message: "The review is already decided."},
	{err: kyc.ErrInvalidDecision, code: "parameter_invalid", param: "decision", message: "The review decision is invalid."},
	{err: prepaid.ErrNotFound, code: "resource_missing", message: "No such account."},
	{err: prepaid.ErrFrozen, code: "account_frozen"},
	{err: prepaid.ErrExpired, code: "account_expired"},
	{err: prepaid.ErrClosed, code: "account_closed"},
	{err: prepaid.ErrInvalidTransition, code: "invalid_state", message: "The account is not in a state that allows this."},
	{err: fx.ErrRatesStale, code: "fx_rates_stale"},
	{err: fx.ErrUnsupportedCurrency, code: "currency_unsupported"},
	{err: fx.ErrQuoteExpired, code: "quote_expired", plain: true},
	{err: fx.ErrQuoteNotFound, code: "resource_missing", message: "No such quote."},
	{err: fx.ErrInvalidAmount, code: "amount_invalid"},
	{err: gateway.ErrIncorrectNumber, code: "incorrect_number", param: "number"},
	{err: gateway.ErrUnsupportedNetwork, code: "unsupported_network", param: "number"},
	{err: gateway.ErrInvalidExpiry, code: "invalid_expiry", param: "exp_month"},
	{err: gateway.ErrInvalidCVC, code: "invalid_cvc", param: "cvc"},
	{err: gateway.ErrInvalidOTP, code: "otp_invalid", param: "otp"},
	{err: gateway.ErrHolderNameMismatch, code: "holder_name_mismatch", param: "holder_name"},
	{err: gateway.ErrVisitorNotApproved, code: "visitor_not_approved"},
	{err: gateway.ErrTooManyCards, code: "too_many_cards"},
	{err: gateway.ErrCardBoundElsewhere, code: "card_bound_elsewhere"},
	{err: gateway.ErrBindingInProgress, code: "card_binding_in_progress"},
	{err: gateway.ErrNoActionRequired, code: "no_action_required"},
	{err: gateway.ErrNotChallenged, code: "no_action_required", message: "The network call is not waiting for authentication."},
	{err: gateway.ErrCardNotUsable, code: "card_not_usable"},
	{err: gateway.ErrCardNotFound, code: "resource_missing", message: "No such card."},
	{err: gateway.ErrVisitorNotFound, code: "resource_missing", message: "No such visitor."},
	{err: ledger.ErrAccountNotFound, code: "resource_missing", message: "No such ledger account."},
	{err: ledger.ErrInsufficientFunds, code: "insufficient_funds"},
	// Amounts beyond what one transfer may move are bad input, not a 500.
	{err: ledger.ErrInvalidAmount, code: "amount_invalid"},
	{err: adjustment.ErrNotFound, code: "resource_missing", message: "No such adjustment."},
	{err: adjustment.ErrAboveCeiling, code: "amount_above_ceiling"},
	{err: adjustment.ErrAccountClosed, code: "adjustment_account_closed"},
	{err: adjustment.ErrNotProposed, code: "invalid_state", message: "The adjustment is already decided."},
	{err: adjustment.ErrZeroAmount, code: "amount_invalid", param: "amount.value", message: "The amount must not be zero."},
	{err: adjustment.ErrInvalidInput, code: "parameter_invalid"},
	{err: prepaid.ErrQuoteMismatch, code: "quote_mismatch", param: "quote_id"},
	{err: prepaid.ErrCardNotUsable, code: "card_not_usable", param: "card_id", message: "The card cannot be used for this."},
	{err: prepaid.ErrLoadNotFound, code: "resource_missing", message: "No such load."},
	{err: prepaid.ErrUnloadNotFound, code: "resource_missing", message: "No such unload."},
	{err: prepaid.ErrNoActionRequired, code: "invalid_state", message: "The load is not waiting for authentication."},
	{err: prepaid.ErrInvalidOTP, code: "otp_invalid", param: "otp"},
	{err: prepaid.ErrUnloadInProgress, code: "unload_in_progress"},
	{err: prepaid.ErrNothingToUnload, code: "nothing_to_unload"},
	{err: prepaid.ErrExceedsCardRoom, code: "unload_exceeds_card_room", param: "card_id"},
	{err: prepaid.ErrCloseBlocked, code: "account_busy", param: "close"},
	{err: prepaid.ErrInvalidCursor, code: "parameter_invalid", param: "cursor", message: "The cursor is not one this API returned."},
	{err: prepaid.ErrUnresolved, code: "outcome_pending"},
	{err: escrow.ErrNotFound, code: "resource_missing"},
	{err: escrow.ErrInvalidState, code: "invalid_state", message: "The payment is not in a state that allows this."},
	{err: escrow.ErrOutTradeNoConflict, code: "out_trade_no_conflict", param: "out_trade_no"},
	{err: escrow.ErrInsufficientFunds, code: "insufficient_funds"},
	{err: escrow.ErrMerchantInsufficientFunds, code: "merchant_insufficient_funds"},
	{err: escrow.ErrInvalidInput, code: "parameter_invalid"},
	{err: webhook.ErrHostUnresolvable, code: "parameter_invalid", param: "url", message: "The url's host does not resolve in DNS. Use a public host name that resolves (a receiver on a private or loopback address needs INBOUND_WEBHOOK_ALLOW_PRIVATE=true on the server)."},
	{err: webhook.ErrInvalidURL, code: "parameter_invalid", param: "url", message: "The url must be an absolute http(s) URL."},
	{err: webhook.ErrPrivateURL, code: "url_not_allowed", param: "url"},
	{err: webhook.ErrInvalidEvents, code: "parameter_invalid", param: "events", message: "The events must be known event types or \"*\"."},
	{err: webhook.ErrNotFound, code: "resource_missing", message: "No such webhook endpoint."},
	{err: webhook.ErrDeliveryNotFound, code: "resource_missing", message: "No such webhook delivery."},
	{err: webhook.ErrDeliveryNotFailed, code: "invalid_state", message: "Only a failed delivery to an enabled endpoint can be retried."},
	{err: webhook.ErrTooManyEndpoint, code: "endpoint_limit_reached", message: fmt.Sprintf("The partner already has the maximum of %d webhook endpoints.", webhook.MaxEndpoints)},
	// Data sealed under a key the keyring lacks is an operator error (a key
	// dropped too early), not the client's and not a bug: 503 with
	// Retry-After, logged with the key id by Server.fail.
	{err: vault.ErrUnknownKey, code: "service_unavailable", plain: true},
	// A card network that cannot be reached, outside a payment (where it
	// is a decline, matched above), is the gateway's outage: 503 with
	// Retry-After, never a 500.
	{err: gateway.ErrCircuitOpen, code: "service_unavailable", plain: true},
	{err: gateway.ErrUnavailable, code: "service_unavailable", plain: true},
	{err: gateway.ErrTimeout, code: "service_unavailable", plain: true},
	// A settlement report the network did not give: retry later.
	{err: recon.ErrReportUnavailable, code: "service_unavailable", plain: true},
	// The database or Redis down or restarting (db.Unavailable recognises
	// the driver errors and marks them with db.ErrUnavailable).
	{err: db.ErrUnavailable, code: "service_unavailable", plain: true},
}

// msgKeyReused tells the client what went wrong with its key: keys are
// scoped per partner (or staff member) across all routes, and the first
// answer is kept, errors included, so a fixed key in a script collides.
var msgKeyReused = fmt.Sprintf("This Idempotency-Key was already used with a different request. Keys are scoped per partner across all routes (per staff member on the admin API), not per route, and the first answer under a key is stored for %d hours, error answers included, and replayed for the same request. Send a fresh key for every new request, e.g. a UUID.", int(idempotency.Retention.Hours()))

// newError builds a client error from a catalogue code.
func newError(codeName ErrorCode, param, message string) *apiError {
	c, ok := catalogue[codeName]
	if !ok {
		panic("httpapi: code not in catalogue: " + string(codeName))
	}
	if message == "" {
		message = c.message
	}
	return &apiError{Status: c.status, Type: c.typ, Code: codeName, Message: message, Param: param}
}

// paramed attaches the request field an error is about.
type paramed struct {
	err   error
	param string
}

func (p paramed) Error() string     { return p.err.Error() }
func (p paramed) Unwrap() error     { return p.err }
func (p paramed) ParamName() string { return p.param }

// withParam names the request field err is about.
func withParam(err error, param string) error { return paramed{err: err, param: param} }

// paramError is implemented by domain errors that know which request field
// they are about.
type paramError interface{ ParamName() string }

// detailError is implemented by domain errors that carry a message safe to
// show the client (never the input itself).
type detailError interface{ Detail() string }

// toAPIError turns any error into what the client sees. Unknown errors are
// 500 internal_error with a clean message; the caller logs the chain.
func toAPIError(err error) (*apiError, bool) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae, true
	}
	var le *prepaid.LimitError
	if errors.As(err, &le) {
		e := newError("limit_exceeded", "", fmt.Sprintf("The load would exceed the %s limit.", le.Limit))
		e.Extra = map[string]any{"limit": le.Limit, "room": le.Room}
		return e, true
	}
	var re *prepaid.CardRoomError
	if errors.As(err, &re) {
		e := newError("unload_exceeds_card_room", "card_id", fmt.Sprintf(
			"At most %s CNY of the %s CNY available can go back now (the card has %s %s of captures not yet refunded); with close the rest goes to the other funding cards, each within its own room.",
			re.Room.Value(), re.Requested.Value(), re.RefundRoom.Value(), re.RefundRoom.Currency().Code()))
		e.Extra = map[string]any{"room": re.Room, "requested": re.Requested, "refund_room": re.RefundRoom}
		return e, true
	}
	var ie *escrow.InputError
	if errors.As(err, &ie) {
		return newError("parameter_invalid", ie.Param, upperFirst(ie.Param+" "+ie.Reason+".")), true
	}
	var ae2 *gateway.AuthenticationError
	if errors.As(err, &ae2) {
		return authenticationFailed(ae2), true
	}
	var de *gateway.DeclineError
	if errors.As(err, &de) {
		e := newError("card_declined", "", "")
		e.DeclineCode = de.Code
		return e, true
	}
	if db.Unavailable(err) && !errors.Is(err, db.ErrUnavailable) {
		err = fmt.Errorf("%w: %w", db.ErrUnavailable, err)
	}
	for _, m := range errorTable {
		if errors.Is(err, m.err) {
			return fromMapping(err, m), true
		}
	}
	return newError(CodeInternalError, "", ""), false
}

// fromMapping builds the client error of a matched mapping: the
// catalogue's message (or the mapping's), and unless plain, the request
// field and a client-safe detail the error chain carries.
func fromMapping(err error, m mapping) *apiError {
	e := newError(m.code, m.param, m.message)
	if m.plain {
		return e
	}
	var pe paramError
	if errors.As(err, &pe) {
		e.Param = pe.ParamName()
	}
	var de detailError
	if errors.As(err, &de) && de.Detail() != "" {
		e.Message = upperFirst(de.Detail())
	}
	var mp *money.ParseError
	if errors.As(err, &mp) && e.Param == "" {
		e.Param = mp.Field
	}
	return e
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	if s[0] >= 'a' && s[0] <= 'z' {
		return string(s[0]-32) + s[1:]
	}
	return s
}

// quoteExpired says how long quotes live, so the client knows to request
// a new one right before using it.
func quoteExpired(ttl time.Duration) *apiError {
	secs := int(ttl.Round(time.Second) / time.Second)
	e := newError("quote_expired", "", fmt.Sprintf(
		"The quote has expired or was already used: a quote lives %d seconds and serves one load or unload. Request a new quote (POST /v1/fx/quotes) and use it right away.", secs))
	e.Extra = map[string]any{"quote_ttl_seconds": secs}
	return e
}

// authError is the 401 of a request without credentials or with wrong
// ones; the two get different messages, so a client that forgot the header
// is not sent looking for a wrong key.
func authError(api string, missing bool) *apiError {
	switch {
	case api == "admin" && missing:
		return newError("unauthenticated", "", "No staff token provided: send Authorization: Bearer st_...")
	case api == "admin":
		return newError("unauthenticated", "", "Invalid staff token provided (unknown, rotated, or its staff member is disabled).")
	case missing:
		return newError("unauthenticated", "", "No API key provided: send Authorization: Bearer sk_...")
	}
	return newError("unauthenticated", "", "Invalid API key provided (unknown, rotated, or its partner is disabled).")
}

// authenticationFailed is a wrong OTP: 402 authentication_failed with the
// attempts left (0 once the card or load has failed).
func authenticationFailed(a *gateway.AuthenticationError) *apiError {
	msg := fmt.Sprintf("The one-time password is wrong; %d attempts remaining.", a.Remaining)
	if a.Remaining == 0 {
		msg = "The one-time password is wrong; no attempts remain and the authentication has failed."
	}
	e := newError("authentication_failed", "", msg)
	e.DeclineCode = gateway.DeclineAuthenticationFailed
	e.Extra = map[string]any{"attempts_remaining": a.Remaining}
	return e
}
