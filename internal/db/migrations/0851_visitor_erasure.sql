-- When the retention job erased a visitor's personal data (name, birth
-- date, sealed passport number and its index, phone, email). Ledger rows,
-- amounts and ids are never touched, so the books still balance.
ALTER TABLE visitors ADD COLUMN erased_at {{.Time}}
