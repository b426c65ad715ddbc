// Package cardnet is the card-network simulator: the five networks Inbound
// accepts (Visa, Mastercard, Amex, Discover, JCB) and their issuers, in
// memory, spoken to over HTTP with JSON messages that carry ISO 8583
// semantics. cmd/cardnet serves it on its own; the gateway's tests and the
// embedded mode of inbound serve it in-process.
//
// # Messages
//
// POST /v1/messages takes one Message and answers one Response (HTTP 200)
// whatever the issuer decides; field 39 (response_code) carries the
// decision. HTTP 400 is a message that cannot be answered at all (bad JSON,
// unknown field, unknown MTI, STAN or RRN missing); 503 and 504 come only
// from fault injection and the no-answer card.
//
//	0100 authorisation      pan, expiry, cvc?, amount, currency, stan, rrn
//	                        amount "0" is an account verification (currency optional)
//	0200 purchase (pc 00)   as 0100, captured at once
//	0200 refund (pc 20)     pan, amount, currency, stan, rrn, original? (a capture)
//	0220 completion         pan, amount <= authorised, currency, stan, rrn,
//	                        original {mti: 0100, stan, rrn, auth_code}
//	0400 reversal           pan, stan, rrn, original {mti, stan, rrn}, amount? (= original)
//	0800 echo               network?
//
// The answer MTI is the request's plus 10. Amounts are minor units as a
// digit string, in the card's billing currency: any other currency is
// refused with 13. An approval carries a six-character auth_code and the
// open-to-buy left (available); every answer about a valid PAN carries the
// card's network, issuer_country and billing_currency.
//
// Response codes: 00 approved, 05 do not honour, 12 invalid transaction
// (no such original, already captured, processing code), 13 invalid amount
// or currency, 14 invalid card number, 15 no such issuer (unsupported
// network), 30 format error, 41 lost, 43 stolen, 51 insufficient funds, 54
// expired card, 63 issuer authentication failed, 94 duplicate transmission
// (same STAN and RRN, different content), 96 system malfunction, N7 CVC
// wrong, 1A issuer authentication required.
//
// # Cards
//
// The cards of TestCards answer as docs/TESTING.md says; any other
// Luhn-valid PAN in a supported range approves, billed in USD (JPY for JCB).
// Every approving card starts with the open-to-buy of OpenToBuy: holds and
// captures reduce it, reversals and refunds restore it, and an amount above
// it declines with 51. The expiry must not have passed (54); a CVC of the
// wrong length for the network is N7; the CVC is never stored or logged.
// The simulator keeps no PAN in plain text: its state is keyed by an HMAC
// of the PAN (under a per-process key, or the key of its data directory),
// and reports show masked PANs. IsTestCard tells a published test card,
// which the gateway lets any number of visitors bind.
//
// The issuer-authentication card answers an authorisation, verification or
// purchase with 1A and a challenge_id. The client resends with challenge_id
// and otp (under the same STAN and RRN, or new ones); OTP "123456" lets the
// message be decided. A wrong OTP is answered with 1A again under the same
// challenge, up to ChallengeTries wrong OTPs; the last is 63 and ends it.
//
// # Repeats and reversals
//
// A repeat of a decided message (same MTI, STAN and RRN, same content)
// gets the stored answer with "replayed": true and changes nothing. A
// reversal is acknowledged with 00 whenever nothing of the original stands
// afterwards, including a reversal of a message that was never answered or
// never arrived; a late original that arrives after its reversal does not
// take effect (12). An authorisation that was captured is reversed by
// reversing its completion.
//
// # Faults
//
// POST /admin/faults {"network": "visa", "timeout_rate": 0.5, "error_rate":
// 0.1, "latency_ms": 200} sets one network's faults ("*" or no network for
// all networks); GET /admin/faults lists them; DELETE /admin/faults
// (?network=visa) clears them. A timeout decides the message and then
// withholds the answer, as when the answer is lost on the way back: the
// request is held until the client gives up (at most MaxHang). An error is
// HTTP 503 before anything is decided. Latency delays the decision; a
// client that gives up meanwhile leaves nothing decided.
//
// # Settlement
//
// GET /v1/settlement?date=YYYY-MM-DD reports the captures, refunds and
// reversals of captures or refunds of that UTC day, per network and
// currency, with totals, the net amount and every line (masked PAN).
// Authorisations and their reversals move no money and are not listed.
//
// # Persistence and memory
//
// New keeps everything in memory. Open with Config.DataDir keeps the
// decided messages, each card's open-to-buy use and the settlement in that
// directory (persist.go: an atomic snapshot plus a JSON-lines journal,
// settlement days past SettlementDays in files of their own), so a restart
// answers repeats and references as before and its settlement report is
// unchanged. Memory is bounded: at most MaxMessages decided messages (the
// oldest are forgotten) and SettlementDays days of settlement lines.
// Open issuer-authentication challenges are not kept across a restart.
package cardnet
