-- Keys the vault keeps in the database, each sealed under the master
-- keyring like any other secret. The one row today is "index": the HMAC key
-- of the passport and card lookup indexes. It is fixed once (random on a
-- new database; on an existing one, derived from the master key the stored
-- indexes were made with, so they stay valid) and only re-sealed when the
-- master key rotates, so lookups keep working after the old master key is
-- dropped.
CREATE TABLE vault_keys (
    name        TEXT PRIMARY KEY,
    sealed      TEXT NOT NULL,
    created_at  {{.Time}} NOT NULL
)
