-- Cards bound to visitors, and the write-ahead record of every message sent
-- to a card network.
--
-- The PAN is only stored sealed (vault, label "pan"); "same card" is found
-- through a keyed HMAC fingerprint. In the clear: network, BIN, last four
-- digits, expiry, issuer country and billing currency, as PCI DSS allows.
-- The CVC is never stored, nor is the holder name (only how well it matched
-- the passport).
CREATE TABLE cards (
    id                TEXT PRIMARY KEY,
    partner_id        TEXT NOT NULL REFERENCES partners(id),
    visitor_id        TEXT NOT NULL REFERENCES visitors(id),
    status            TEXT NOT NULL,
    network           TEXT NOT NULL,
    bin               TEXT NOT NULL,
    last4             TEXT NOT NULL,
    exp_month         INTEGER NOT NULL,
    exp_year          INTEGER NOT NULL,
    issuer_country    TEXT NOT NULL DEFAULT '',
    currency          TEXT NOT NULL DEFAULT '',
    pan_sealed        TEXT NOT NULL,
    fingerprint       TEXT NOT NULL,
    holder_name_score DOUBLE PRECISION NOT NULL DEFAULT 0,
    verify_call_id    TEXT NOT NULL DEFAULT '',
    challenge_id      TEXT NOT NULL DEFAULT '',
    decline_code      TEXT NOT NULL DEFAULT '',
    created_at        {{.Time}} NOT NULL,
    updated_at        {{.Time}} NOT NULL,
    CHECK (status IN ('pending', 'verified', 'requires_action', 'failed', 'removed')),
    CHECK (exp_month BETWEEN 1 AND 12)
)
-- statement
-- One active binding per card across all visitors and partners. A partial
-- unique index, so two binds of the same card that race past the
-- application's check cannot both commit; a failed or removed card frees
-- its fingerprint. "pending" (verification in flight) holds it too.
CREATE UNIQUE INDEX cards_active_fingerprint ON cards (fingerprint)
    WHERE status IN ('pending', 'verified', 'requires_action')
-- statement
CREATE INDEX cards_visitor ON cards (visitor_id, id)
-- statement
-- For the repair of bindings whose process died during verification.
CREATE INDEX cards_pending ON cards (status, updated_at)
-- statement
-- Write-ahead record of network messages: a row is committed in state
-- "intent" before the message is sent, and moves to its outcome (approved,
-- declined, challenged, rejected, unknown) after; an unknown outcome is
-- reversed and the row ends "reversed". A reversal is a row of its own
-- (kind reversal, original_id naming the call), at most one per call, so
-- every retry of it reuses the same STAN and RRN and the network answers
-- a repeat instead of acting twice. card_id has no foreign key: the record
-- must be writable whatever happens to the card.
CREATE TABLE network_calls (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    network        TEXT NOT NULL,
    mti            TEXT NOT NULL,
    stan           TEXT NOT NULL,
    rrn            TEXT NOT NULL,
    amount_minor   BIGINT NOT NULL,
    currency       TEXT NOT NULL DEFAULT '',
    card_id        TEXT NOT NULL,
    reference      TEXT NOT NULL DEFAULT '',
    original_id    TEXT NOT NULL DEFAULT '',
    state          TEXT NOT NULL,
    response_code  TEXT NOT NULL DEFAULT '',
    auth_code      TEXT NOT NULL DEFAULT '',
    decline_code   TEXT NOT NULL DEFAULT '',
    challenge_id   TEXT NOT NULL DEFAULT '',
    attempts       INTEGER NOT NULL DEFAULT 0,
    created_at     {{.Time}} NOT NULL,
    updated_at     {{.Time}} NOT NULL,
    CHECK (kind IN ('verify', 'auth', 'sale', 'capture', 'reversal', 'refund')),
    CHECK (state IN ('intent', 'approved', 'declined', 'challenged', 'rejected', 'unknown', 'reversed')),
    CHECK (amount_minor >= 0)
)
-- statement
-- The network identifies a message by MTI, STAN and RRN.
CREATE UNIQUE INDEX network_calls_trace ON network_calls (mti, stan, rrn)
-- statement
CREATE UNIQUE INDEX network_calls_one_reversal ON network_calls (original_id)
    WHERE kind = 'reversal'
-- statement
-- For Repair: calls whose outcome is not known, oldest first.
CREATE INDEX network_calls_open ON network_calls (state, updated_at)
-- statement
CREATE INDEX network_calls_reference ON network_calls (reference, id)
-- statement
CREATE INDEX network_calls_card ON network_calls (card_id, id)
