-- One unload request may become several unloads: a card gets back at most
-- what it paid in, so an unload with close sends the rest to the other
-- cards that funded the account, each as its own network refund. group_id
-- is the id of the request's first unload (the one carrying request_key)
-- on every unload of the request, part_no their order (0 first). Older
-- rows keep '' and 0: a group of one.
ALTER TABLE prepaid_unloads ADD COLUMN group_id TEXT NOT NULL DEFAULT ''
-- statement
ALTER TABLE prepaid_unloads ADD COLUMN part_no INTEGER NOT NULL DEFAULT 0
-- statement
CREATE INDEX prepaid_unloads_group ON prepaid_unloads (group_id, part_no) WHERE group_id <> ''
-- statement
-- A card's room: what its unloads already took, per account and card.
CREATE INDEX prepaid_unloads_card ON prepaid_unloads (account_id, card_id, status)
