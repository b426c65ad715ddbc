-- KYC: visitors, their append-only status history, sanctions screenings and
-- the review queue. Dates of documents and persons are TEXT 'YYYY-MM-DD':
-- they are calendar days, not instants, and TEXT reads the same on both
-- engines. The passport number is only stored sealed (vault, label
-- "passport"), with a keyed HMAC index for duplicates and staff look-ups.
CREATE TABLE visitors (
    id                TEXT PRIMARY KEY,
    partner_id        TEXT NOT NULL REFERENCES partners(id),
    status            TEXT NOT NULL,
    tier              TEXT NOT NULL,
    reasons           TEXT NOT NULL DEFAULT '',
    surname           TEXT NOT NULL,
    given_names       TEXT NOT NULL,
    nationality       TEXT NOT NULL,
    sex               TEXT NOT NULL,
    date_of_birth     TEXT NOT NULL,
    document_type     TEXT NOT NULL,
    document_format   TEXT NOT NULL,
    issuing_state     TEXT NOT NULL,
    number_sealed     TEXT NOT NULL,
    number_index      TEXT NOT NULL,
    number_masked     TEXT NOT NULL,
    expires_on        TEXT NOT NULL,
    phone             TEXT NOT NULL DEFAULT '',
    email             TEXT NOT NULL DEFAULT '',
    visa_type         TEXT NOT NULL DEFAULT '',
    entry_date        TEXT NOT NULL DEFAULT '',
    planned_departure TEXT NOT NULL DEFAULT '',
    created_at        {{.Time}} NOT NULL,
    updated_at        {{.Time}} NOT NULL
)
-- statement
-- One active visitor per document across all partners. A partial unique
-- index, so the database refuses the second one even when two requests race
-- past the application's check; a rejected visitor frees the document.
CREATE UNIQUE INDEX visitors_active_document ON visitors (number_index) WHERE status <> 'rejected'
-- statement
CREATE INDEX visitors_number_index ON visitors (number_index, id)
-- statement
CREATE INDEX visitors_partner ON visitors (partner_id, id)
-- statement
CREATE TABLE visitor_history (
    id          {{.Serial}},
    visitor_id  TEXT NOT NULL REFERENCES visitors(id),
    status      TEXT NOT NULL,
    reasons     TEXT NOT NULL DEFAULT '',
    actor       TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    created_at  {{.Time}} NOT NULL
)
-- statement
CREATE INDEX visitor_history_visitor ON visitor_history (visitor_id, id)
-- statement
CREATE TABLE screenings (
    id            TEXT PRIMARY KEY,
    visitor_id    TEXT NOT NULL REFERENCES visitors(id),
    list_version  TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    candidates    TEXT NOT NULL,
    created_at    {{.Time}} NOT NULL
)
-- statement
CREATE INDEX screenings_visitor ON screenings (visitor_id, id)
-- statement
CREATE TABLE reviews (
    id               TEXT PRIMARY KEY,
    visitor_id       TEXT NOT NULL REFERENCES visitors(id),
    partner_id       TEXT NOT NULL,
    status           TEXT NOT NULL,
    reasons          TEXT NOT NULL DEFAULT '',
    decided_by       TEXT NOT NULL DEFAULT '',
    decision_reason  TEXT NOT NULL DEFAULT '',
    decided_at       {{.Time}},
    created_at       {{.Time}} NOT NULL
)
-- statement
CREATE INDEX reviews_status ON reviews (status, id)
-- statement
-- At most one open review per visitor.
CREATE UNIQUE INDEX reviews_open_visitor ON reviews (visitor_id) WHERE status = 'open'
-- statement
{{if .Postgres}}
CREATE TRIGGER visitor_history_append_only BEFORE UPDATE OR DELETE ON visitor_history
    FOR EACH ROW EXECUTE FUNCTION refuse_change()
-- statement
CREATE TRIGGER visitor_history_no_truncate BEFORE TRUNCATE ON visitor_history
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change()
{{else}}
CREATE TRIGGER visitor_history_no_update BEFORE UPDATE ON visitor_history
BEGIN SELECT RAISE(ABORT, 'visitor_history is append-only'); END
-- statement
CREATE TRIGGER visitor_history_no_delete BEFORE DELETE ON visitor_history
BEGIN SELECT RAISE(ABORT, 'visitor_history is append-only'); END
{{end}}
