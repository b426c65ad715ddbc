-- Ledger checkpoints: the posted sums of every account over the transfers
-- up to a sequence number, so that `inbound ledger verify` adds only the
-- transfers after the latest checkpoint to them instead of aggregating the
-- whole history, and so that old transfer partitions can be archived
-- without losing what they summed to (docs/SCALING.md). A checkpoint is
-- derived from the previous one and the transfers after it, and is only
-- taken while the ledger verifies clean; `inbound ledger verify -full`
-- recomputes everything and checks the latest checkpoint too.
CREATE TABLE ledger_checkpoints (
    seq         BIGINT PRIMARY KEY,
    transfers   BIGINT NOT NULL,
    accounts    BIGINT NOT NULL,
    created_at  {{.Time}} NOT NULL
)
-- statement
CREATE TABLE ledger_checkpoint_sums (
    checkpoint_seq  BIGINT NOT NULL REFERENCES ledger_checkpoints(seq),
    account_id      TEXT NOT NULL,
    debits_posted   BIGINT NOT NULL,
    credits_posted  BIGINT NOT NULL,
    PRIMARY KEY (checkpoint_seq, account_id)
)
-- statement
-- Verify's pending sums and open-holds check read only the pending
-- transfers: few, however long the history.
CREATE INDEX ledger_transfers_pending ON ledger_transfers (seq) WHERE kind = 'pending'
