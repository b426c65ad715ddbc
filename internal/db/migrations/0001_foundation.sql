-- Foundation: partners and their keys, staff, idempotency records, job
-- leases and the audit log.
CREATE TABLE partners (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  {{.Time}} NOT NULL
)
-- statement
CREATE TABLE partner_keys (
    id          TEXT PRIMARY KEY,
    partner_id  TEXT NOT NULL REFERENCES partners(id),
    key_hash    TEXT NOT NULL UNIQUE,
    last4       TEXT NOT NULL,
    created_at  {{.Time}} NOT NULL,
    revoked_at  {{.Time}}
)
-- statement
CREATE INDEX partner_keys_partner ON partner_keys (partner_id)
-- statement
CREATE TABLE staff (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    status      TEXT NOT NULL,
    created_at  {{.Time}} NOT NULL
)
-- statement
CREATE TABLE idempotency_keys (
    scope         TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    method        TEXT NOT NULL,
    path          TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    status_code   INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    created_at    {{.Time}} NOT NULL,
    expires_at    {{.Time}} NOT NULL,
    PRIMARY KEY (scope, idem_key)
)
-- statement
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at)
-- statement
CREATE TABLE jobs (
    name         TEXT PRIMARY KEY,
    next_run_at  {{.Time}} NOT NULL,
    lease_owner  TEXT NOT NULL DEFAULT '',
    lease_until  {{.Time}},
    last_run_at  {{.Time}},
    last_error   TEXT NOT NULL DEFAULT '',
    runs         BIGINT NOT NULL DEFAULT 0
)
-- statement
CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    actor_id    TEXT NOT NULL,
    actor_role  TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    before_state TEXT NOT NULL DEFAULT '',
    after_state  TEXT NOT NULL DEFAULT '',
    created_at  {{.Time}} NOT NULL
)
-- statement
CREATE INDEX audit_log_actor ON audit_log (actor_id, id)
-- statement
CREATE INDEX audit_log_target ON audit_log (target, id)
-- statement
{{if .Postgres}}
CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'P0001';
END;
$$
-- statement
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change()
-- statement
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change()
{{else}}
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END
-- statement
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END
{{end}}
