-- A proposed adjustment can be rejected by a supervisor: it is then
-- decided and never posts. Who rejected it, when and why.
ALTER TABLE adjustments ADD COLUMN rejected_by TEXT NOT NULL DEFAULT ''
-- statement
ALTER TABLE adjustments ADD COLUMN rejected_at {{.Time}}
-- statement
ALTER TABLE adjustments ADD COLUMN reject_reason TEXT NOT NULL DEFAULT ''
-- statement
-- One-time confirmation tokens of the support console (internal/console):
-- the confirm page of an action carries a random token; the write deletes
-- its row in the same transaction, so a confirmation submitted twice does
-- the action once. Only the token's SHA-256 is stored, bound to the
-- session (its id hash), the action, the target and the submitted values.
CREATE TABLE console_confirmations (
    token_hash    TEXT PRIMARY KEY,
    session_hash  TEXT NOT NULL,
    action        TEXT NOT NULL,
    target        TEXT NOT NULL,
    values_hash   TEXT NOT NULL,
    created_at    {{.Time}} NOT NULL,
    expires_at    {{.Time}} NOT NULL
)
-- statement
CREATE INDEX console_confirmations_expires ON console_confirmations (expires_at)
