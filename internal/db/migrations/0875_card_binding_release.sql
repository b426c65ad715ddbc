-- Who may hold a card (issue 13, partner test mode).
--
-- The published test cards (the cardnet table: 4242 4242 4242 4242 and the
-- rest) are not anyone's card: like Stripe's, any number of visitors may
-- bind them. test_card marks such a binding, and the one-binding-per-card
-- index now leaves them out. Every other card still binds to one visitor
-- at a time.
ALTER TABLE cards ADD COLUMN test_card BOOLEAN NOT NULL DEFAULT FALSE
-- statement
DROP INDEX cards_active_fingerprint
-- statement
CREATE UNIQUE INDEX cards_active_fingerprint ON cards (fingerprint)
    WHERE status IN ('pending', 'verified', 'requires_action') AND NOT test_card
-- statement
-- A visitor holds a card once, test card or not (binding it again returns
-- the binding it has).
CREATE UNIQUE INDEX cards_active_visitor_fingerprint ON cards (visitor_id, fingerprint)
    WHERE status IN ('pending', 'verified', 'requires_action')
-- statement
-- A binding ends when the card is deleted or when the visitor's account
-- closes: closing now removes the visitor's cards in the same transaction.
-- Accounts closed before this migration release their cards here. A visitor
-- holding the same card twice cannot exist yet (the old index forbade it),
-- so the new index is safe to build.
UPDATE cards SET status = 'removed', challenge_id = ''
    WHERE status IN ('pending', 'verified', 'requires_action')
      AND visitor_id IN (SELECT visitor_id FROM prepaid_accounts WHERE status = 'closed')
