-- Support console sessions (internal/console): a staff token is exchanged
-- once for a session. Only the SHA-256 of the random session id is stored,
-- so a copy of this table signs nobody in. Every replica reads the same
-- rows, so a session works behind a load balancer. token_hash is the staff
-- token's hash (as in staff.token_hash) the session was opened with: once
-- the token is rotated the session stops, however it was rotated.
CREATE TABLE console_sessions (
    id_hash       TEXT PRIMARY KEY,
    staff_id      TEXT NOT NULL,
    token_hash    TEXT NOT NULL,
    created_at    {{.Time}} NOT NULL,
    last_seen_at  {{.Time}} NOT NULL,
    expires_at    {{.Time}} NOT NULL
)
-- statement
CREATE INDEX console_sessions_staff ON console_sessions (staff_id)
-- statement
-- The result of each reconciliation run from the console, so the home page
-- shows the latest one without calling the card networks again.
CREATE TABLE console_recon_runs (
    id          {{.Serial}},
    day         TEXT NOT NULL,
    breaks      INTEGER NOT NULL,
    run_by      TEXT NOT NULL,
    created_at  {{.Time}} NOT NULL
)
