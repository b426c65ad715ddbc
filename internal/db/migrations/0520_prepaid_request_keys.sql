-- The idempotency key (scope and key) of the request that made a load or an
-- unload. A retry of that request after a crash finds the operation it
-- already started, instead of answering from a state (a used quote, an
-- unload in progress) that its own first attempt created.
ALTER TABLE prepaid_loads ADD COLUMN request_key TEXT NOT NULL DEFAULT ''
-- statement
CREATE UNIQUE INDEX prepaid_loads_request_key ON prepaid_loads (partner_id, request_key) WHERE request_key <> ''
-- statement
ALTER TABLE prepaid_unloads ADD COLUMN request_key TEXT NOT NULL DEFAULT ''
-- statement
CREATE UNIQUE INDEX prepaid_unloads_request_key ON prepaid_unloads (partner_id, request_key) WHERE request_key <> ''
