-- Escrow: merchants (each with its payable ledger accounts), payments
-- (money held in a per-payment escrow ledger account until released or
-- refunded) and refunds. Amounts are integer minor units; the ledger holds
-- the money, these rows hold the business state and point at the ledger.
CREATE TABLE escrow_merchants (
    id                TEXT PRIMARY KEY,
    partner_id        TEXT NOT NULL,
    name              TEXT NOT NULL,
    mcc               TEXT NOT NULL,
    -- space-separated ledger account ids of the payable shards
    payable_accounts  TEXT NOT NULL,
    created_at        {{.Time}} NOT NULL
)
-- statement
CREATE INDEX escrow_merchants_partner ON escrow_merchants (partner_id, id)
-- statement
-- held: still in escrow; released: paid to the merchant (fee included);
-- refunded: returned to the visitor, from escrow or from the merchant.
-- due_at is auto_release_at while the payment can be auto-released (money in
-- escrow, no open dispute) and NULL otherwise: the job's queue.
CREATE TABLE escrow_payments (
    id                    TEXT PRIMARY KEY,
    partner_id            TEXT NOT NULL,
    visitor_id            TEXT NOT NULL,
    merchant_id           TEXT NOT NULL REFERENCES escrow_merchants(id),
    currency              TEXT NOT NULL,
    amount                BIGINT NOT NULL CHECK (amount > 0),
    held                  BIGINT NOT NULL CHECK (held >= 0),
    released              BIGINT NOT NULL CHECK (released >= 0),
    refunded              BIGINT NOT NULL CHECK (refunded >= 0),
    fee                   BIGINT NOT NULL CHECK (fee >= 0),
    status                TEXT NOT NULL,
    out_trade_no          TEXT NOT NULL,
    description           TEXT NOT NULL,
    auto_release_after_ns BIGINT NOT NULL,
    auto_release_at       {{.Time}} NOT NULL,
    due_at                {{.Time}},
    escrow_account_id     TEXT NOT NULL,
    visitor_account_id    TEXT NOT NULL,
    dispute_reason        TEXT NOT NULL DEFAULT '',
    disputed_at           {{.Time}},
    resolution            TEXT NOT NULL DEFAULT '',
    resolved_by           TEXT NOT NULL DEFAULT '',
    resolution_reason     TEXT NOT NULL DEFAULT '',
    resolved_at           {{.Time}},
    released_at           {{.Time}},
    created_at            {{.Time}} NOT NULL,
    updated_at            {{.Time}} NOT NULL,
    CHECK (refunded <= amount AND held <= amount)
)
-- statement
CREATE UNIQUE INDEX escrow_payments_out_trade_no ON escrow_payments (partner_id, out_trade_no)
-- statement
CREATE INDEX escrow_payments_partner ON escrow_payments (partner_id, id)
-- statement
CREATE INDEX escrow_payments_visitor ON escrow_payments (partner_id, visitor_id, id)
-- statement
CREATE INDEX escrow_payments_status ON escrow_payments (partner_id, status, id)
-- statement
CREATE INDEX escrow_payments_due ON escrow_payments (due_at) WHERE due_at IS NOT NULL
-- statement
-- What a visitor has in escrow (the prepaid account view, across partners).
CREATE INDEX escrow_payments_visitor_held ON escrow_payments (visitor_id) WHERE held > 0
-- statement
-- source: escrow (before release) or merchant (after release, taken from the
-- merchant's payable). created_by is the staff id of a dispute resolution.
CREATE TABLE escrow_refunds (
    id          TEXT PRIMARY KEY,
    payment_id  TEXT NOT NULL REFERENCES escrow_payments(id),
    partner_id  TEXT NOT NULL,
    currency    TEXT NOT NULL,
    amount      BIGINT NOT NULL CHECK (amount > 0),
    source      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  {{.Time}} NOT NULL
)
-- statement
CREATE INDEX escrow_refunds_payment ON escrow_refunds (payment_id, id)
