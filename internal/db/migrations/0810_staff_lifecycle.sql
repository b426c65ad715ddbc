-- Staff lifecycle and the four-eyes rule. created_by is who made the
-- member (a staff id, or system:cli / system:bootstrap); token_issued_by is
-- who last saw the member's token (whoever saw it can act as the member);
-- approved_by is the second supervisor who activated a new supervisor;
-- activated_at is when the member became active (approvals compare it with
-- the proposal's time). A proposed supervisor waits in status 'pending'
-- with no usable token: its token_hash holds a placeholder that no SHA-256
-- hex digest can equal.
ALTER TABLE staff ADD COLUMN created_by TEXT NOT NULL DEFAULT ''
-- statement
ALTER TABLE staff ADD COLUMN token_issued_by TEXT NOT NULL DEFAULT ''
-- statement
ALTER TABLE staff ADD COLUMN approved_by TEXT NOT NULL DEFAULT ''
-- statement
ALTER TABLE staff ADD COLUMN activated_at {{.Time}}
-- statement
ALTER TABLE staff ADD COLUMN updated_at {{.Time}}
-- statement
UPDATE staff SET activated_at = created_at, updated_at = created_at
-- statement
CREATE INDEX staff_role_status ON staff (role, status)
