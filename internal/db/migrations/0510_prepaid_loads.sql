-- Loads and unloads of the prepaid account: the write-ahead record of each
-- money movement between a card and the account. A row is committed before
-- the network message leaves (status pending), so a crash at any point
-- leaves a record that Recover resolves from the network call of the same
-- reference. Amounts are integer minor units.
CREATE TABLE prepaid_loads (
    id               TEXT PRIMARY KEY,
    partner_id       TEXT NOT NULL,
    visitor_id       TEXT NOT NULL,
    account_id       TEXT NOT NULL REFERENCES prepaid_accounts(id),
    card_id          TEXT NOT NULL,
    quote_id         TEXT NOT NULL UNIQUE,
    status           TEXT NOT NULL,
    network          TEXT NOT NULL,
    charged_currency TEXT NOT NULL,
    charged_minor    BIGINT NOT NULL,
    buy_minor        BIGINT NOT NULL,
    credited_minor   BIGINT NOT NULL,
    fee_minor        BIGINT NOT NULL,
    usd_minor        BIGINT NOT NULL,
    call_id          TEXT NOT NULL DEFAULT '',
    response_code    TEXT NOT NULL DEFAULT '',
    auth_code        TEXT NOT NULL DEFAULT '',
    stan             TEXT NOT NULL DEFAULT '',
    rrn              TEXT NOT NULL DEFAULT '',
    decline_code     TEXT NOT NULL DEFAULT '',
    created_at       {{.Time}} NOT NULL,
    updated_at       {{.Time}} NOT NULL,
    CHECK (status IN ('pending', 'requires_action', 'succeeded', 'failed')),
    CHECK (charged_minor > 0 AND credited_minor > 0 AND fee_minor >= 0 AND usd_minor >= 0)
)
-- statement
-- Limits: the loads of an account in flight and of the year.
CREATE INDEX prepaid_loads_account ON prepaid_loads (account_id, status, created_at)
-- statement
-- Recover: unfinished loads by age.
CREATE INDEX prepaid_loads_status ON prepaid_loads (status, updated_at)
-- statement
-- Unload: the cards that funded the account.
CREATE INDEX prepaid_loads_card ON prepaid_loads (card_id, status)
-- statement
CREATE TABLE prepaid_unloads (
    id               TEXT PRIMARY KEY,
    partner_id       TEXT NOT NULL,
    visitor_id       TEXT NOT NULL,
    account_id       TEXT NOT NULL REFERENCES prepaid_accounts(id),
    card_id          TEXT NOT NULL,
    quote_id         TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL,
    close_account    BOOLEAN NOT NULL,
    network          TEXT NOT NULL DEFAULT '',
    amount_minor     BIGINT NOT NULL,
    refund_currency  TEXT NOT NULL DEFAULT '',
    refund_minor     BIGINT NOT NULL,
    rate             TEXT NOT NULL DEFAULT '',
    hold_id          TEXT NOT NULL DEFAULT '',
    call_id          TEXT NOT NULL DEFAULT '',
    response_code    TEXT NOT NULL DEFAULT '',
    auth_code        TEXT NOT NULL DEFAULT '',
    stan             TEXT NOT NULL DEFAULT '',
    rrn              TEXT NOT NULL DEFAULT '',
    decline_code     TEXT NOT NULL DEFAULT '',
    created_at       {{.Time}} NOT NULL,
    updated_at       {{.Time}} NOT NULL,
    CHECK (status IN ('pending', 'succeeded', 'failed')),
    CHECK (amount_minor >= 0 AND refund_minor >= 0)
)
-- statement
CREATE INDEX prepaid_unloads_account ON prepaid_unloads (account_id, status)
-- statement
CREATE INDEX prepaid_unloads_status ON prepaid_unloads (status, updated_at)
