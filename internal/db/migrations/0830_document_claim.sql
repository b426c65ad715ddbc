-- A visitor's claim on its passport. Only an application that would be
-- approved is checked for duplicates (checking others let one partner learn
-- about another's visitors), so several visitors of one document can now
-- sit in review or be rejected; what stays unique is the approved holder.
-- Support staff can end a visitor's claim (document_released_at), for
-- example when someone registered a stranger's passport number first, so
-- the real holder can be approved.
ALTER TABLE visitors ADD COLUMN document_released_at {{.Time}}
-- statement
DROP INDEX visitors_active_document
-- statement
CREATE UNIQUE INDEX visitors_document_claim ON visitors (number_index) WHERE status = 'approved' AND document_released_at IS NULL
