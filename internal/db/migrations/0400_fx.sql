-- FX quotes: priced conversions that can be used once before they expire.
-- Amounts are integer minor units; rates are exact decimal strings. The
-- derived amounts (fee, credited, mid value) are stored as quoted, so a
-- change of terms never changes a quote a customer already saw.
CREATE TABLE quotes (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    partner_id      TEXT NOT NULL,
    visitor_id      TEXT NOT NULL,
    card_id         TEXT NOT NULL,
    sell_currency   TEXT NOT NULL,
    sell_minor      BIGINT NOT NULL,
    buy_currency    TEXT NOT NULL,
    buy_minor       BIGINT NOT NULL,
    rate            TEXT NOT NULL,
    mid_rate        TEXT NOT NULL,
    fee_minor       BIGINT NOT NULL,
    credited_minor  BIGINT NOT NULL,
    mid_value_minor BIGINT NOT NULL,
    rates_as_of     {{.Time}} NOT NULL,
    created_at      {{.Time}} NOT NULL,
    expires_at      {{.Time}} NOT NULL,
    used_at         {{.Time}},
    CHECK (kind IN ('load', 'unload')),
    CHECK (sell_minor > 0 AND buy_minor > 0 AND fee_minor >= 0 AND credited_minor > 0)
)
-- statement
CREATE INDEX quotes_visitor ON quotes (visitor_id, id)
-- statement
-- For the purge of unused expired quotes.
CREATE INDEX quotes_expires ON quotes (expires_at)
