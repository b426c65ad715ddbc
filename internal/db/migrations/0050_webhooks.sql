-- Webhooks: endpoints, the transactional outbox of events, one delivery per
-- (event, endpoint) and every attempt.
CREATE TABLE webhook_endpoints (
    id             TEXT PRIMARY KEY,
    partner_id     TEXT NOT NULL REFERENCES partners(id),
    url            TEXT NOT NULL,
    events         TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    secret_sealed  TEXT NOT NULL,
    status         TEXT NOT NULL,
    created_at     {{.Time}} NOT NULL
)
-- statement
CREATE INDEX webhook_endpoints_partner ON webhook_endpoints (partner_id, id)
-- statement
CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    partner_id  TEXT NOT NULL,
    type        TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  {{.Time}} NOT NULL
)
-- statement
CREATE INDEX events_partner ON events (partner_id, id)
-- statement
CREATE TABLE webhook_deliveries (
    id               {{.Serial}},
    event_id         TEXT NOT NULL REFERENCES events(id),
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints(id),
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  {{.Time}} NOT NULL,
    last_status_code INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT NOT NULL DEFAULT '',
    created_at       {{.Time}} NOT NULL,
    UNIQUE (event_id, endpoint_id)
)
-- statement
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at)
-- statement
CREATE TABLE webhook_attempts (
    id           {{.Serial}},
    delivery_id  BIGINT NOT NULL REFERENCES webhook_deliveries(id),
    attempted_at {{.Time}} NOT NULL,
    status_code  INTEGER NOT NULL,
    error        TEXT NOT NULL DEFAULT '',
    duration_ms  INTEGER NOT NULL
)
-- statement
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id)
