-- Audit records used to keep a full JSON copy of the changed object, which
-- for KYC reviews held the visitor's name, date of birth, phone and email,
-- forever. New records keep ids, statuses and changed field names only.
-- This rewrites the old snapshots once, so the personal data goes; the
-- record itself (actor, action, target, reason, request id, time) stays.
-- The append-only guard is lifted for this one statement only.
{{if .Postgres}}
ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only
-- statement
UPDATE audit_log SET after_state = '{"id":"' || target || '","legacy_redacted":true}' WHERE after_state <> ''
-- statement
UPDATE audit_log SET before_state = '{"id":"' || target || '","legacy_redacted":true}' WHERE before_state <> ''
-- statement
ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only
{{else}}
DROP TRIGGER audit_log_no_update
-- statement
UPDATE audit_log SET after_state = '{"id":"' || target || '","legacy_redacted":true}' WHERE after_state <> ''
-- statement
UPDATE audit_log SET before_state = '{"id":"' || target || '","legacy_redacted":true}' WHERE before_state <> ''
-- statement
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END
{{end}}
