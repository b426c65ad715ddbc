-- Ledger: accounts, their balance rows (one per slot), operations (the
-- idempotency gate of a batch), transfers (the immutable entries) and open
-- holds (a work queue of pending transfers not yet posted or voided).
CREATE TABLE ledger_accounts (
    id           TEXT PRIMARY KEY,
    code         TEXT NOT NULL UNIQUE,
    currency     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    owner        TEXT NOT NULL DEFAULT '',
    no_negative  BOOLEAN NOT NULL,
    slots        INTEGER NOT NULL CHECK (slots >= 1),
    created_at   {{.Time}} NOT NULL
)
-- statement
CREATE INDEX ledger_accounts_owner ON ledger_accounts (owner)
-- statement
-- The four counters of TigerBeetle: balances are derived from them by the
-- account's kind. A hot unconstrained account has several rows (slots) and
-- its balance is their sum; every other account has slot 0 only.
CREATE TABLE ledger_balances (
    account_id       TEXT NOT NULL REFERENCES ledger_accounts(id),
    slot             INTEGER NOT NULL,
    debits_posted    BIGINT NOT NULL DEFAULT 0,
    credits_posted   BIGINT NOT NULL DEFAULT 0,
    debits_pending   BIGINT NOT NULL DEFAULT 0,
    credits_pending  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, slot)
)
-- statement
CREATE TABLE ledger_operations (
    reference    TEXT PRIMARY KEY,
    fingerprint  TEXT NOT NULL,
    created_at   {{.Time}} NOT NULL
)
-- statement
-- kind: posted | pending | post_pending | void_pending. hold_id names the
-- pending transfer a post_pending/void_pending row resolves. The balance
-- columns hold the account's posted balance (in its normal direction) right
-- after this transfer, for single-slot accounts only.
CREATE TABLE ledger_transfers (
    seq                   {{.Serial}},
    id                    TEXT NOT NULL UNIQUE,
    reference             TEXT NOT NULL,
    kind                  TEXT NOT NULL,
    debit_account_id      TEXT NOT NULL,
    credit_account_id     TEXT NOT NULL,
    amount                BIGINT NOT NULL CHECK (amount > 0),
    currency              TEXT NOT NULL,
    hold_id               TEXT,
    expires_at            {{.Time}},
    on_expiry             TEXT NOT NULL DEFAULT '',
    debit_balance_after   BIGINT,
    credit_balance_after  BIGINT,
    created_at            {{.Time}} NOT NULL,
    CHECK (debit_account_id <> credit_account_id)
)
-- statement
CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit_account_id, seq)
-- statement
CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit_account_id, seq)
-- statement
CREATE INDEX ledger_transfers_reference ON ledger_transfers (reference)
-- statement
-- At most one resolution per hold, whatever the code does.
CREATE UNIQUE INDEX ledger_transfers_resolves_once ON ledger_transfers (hold_id) WHERE hold_id IS NOT NULL
-- statement
CREATE TABLE ledger_holds (
    hold_id            TEXT PRIMARY KEY,
    debit_account_id   TEXT NOT NULL,
    credit_account_id  TEXT NOT NULL,
    amount             BIGINT NOT NULL,
    currency           TEXT NOT NULL,
    expires_at         {{.Time}},
    on_expiry          TEXT NOT NULL DEFAULT ''
)
-- statement
CREATE INDEX ledger_holds_expiry ON ledger_holds (expires_at)
-- statement
{{if .Postgres}}
CREATE TRIGGER ledger_transfers_append_only BEFORE UPDATE OR DELETE ON ledger_transfers
    FOR EACH ROW EXECUTE FUNCTION refuse_change()
-- statement
CREATE TRIGGER ledger_transfers_no_truncate BEFORE TRUNCATE ON ledger_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change()
-- statement
CREATE TRIGGER ledger_operations_append_only BEFORE UPDATE OR DELETE ON ledger_operations
    FOR EACH ROW EXECUTE FUNCTION refuse_change()
-- statement
CREATE TRIGGER ledger_operations_no_truncate BEFORE TRUNCATE ON ledger_operations
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change()
-- statement
CREATE TRIGGER ledger_accounts_append_only BEFORE UPDATE OR DELETE ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION refuse_change()
-- statement
CREATE TRIGGER ledger_accounts_no_truncate BEFORE TRUNCATE ON ledger_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change()
-- statement
-- Balance rows are updated in place, but never removed: that would lose
-- the money they hold.
CREATE TRIGGER ledger_balances_no_delete BEFORE DELETE ON ledger_balances
    FOR EACH ROW EXECUTE FUNCTION refuse_change()
-- statement
CREATE TRIGGER ledger_balances_no_truncate BEFORE TRUNCATE ON ledger_balances
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change()
{{else}}
CREATE TRIGGER ledger_transfers_no_update BEFORE UPDATE ON ledger_transfers
BEGIN SELECT RAISE(ABORT, 'ledger_transfers is append-only'); END
-- statement
CREATE TRIGGER ledger_transfers_no_delete BEFORE DELETE ON ledger_transfers
BEGIN SELECT RAISE(ABORT, 'ledger_transfers is append-only'); END
-- statement
CREATE TRIGGER ledger_operations_no_update BEFORE UPDATE ON ledger_operations
BEGIN SELECT RAISE(ABORT, 'ledger_operations is append-only'); END
-- statement
CREATE TRIGGER ledger_operations_no_delete BEFORE DELETE ON ledger_operations
BEGIN SELECT RAISE(ABORT, 'ledger_operations is append-only'); END
-- statement
CREATE TRIGGER ledger_accounts_no_update BEFORE UPDATE ON ledger_accounts
BEGIN SELECT RAISE(ABORT, 'ledger_accounts is append-only'); END
-- statement
CREATE TRIGGER ledger_accounts_no_delete BEFORE DELETE ON ledger_accounts
BEGIN SELECT RAISE(ABORT, 'ledger_accounts is append-only'); END
-- statement
CREATE TRIGGER ledger_balances_no_delete BEFORE DELETE ON ledger_balances
BEGIN SELECT RAISE(ABORT, 'ledger_balances rows are never removed'); END
{{end}}
