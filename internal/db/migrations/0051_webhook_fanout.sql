-- Webhook fan-out at dispatch time: Emit writes only the event row (with
-- fanned_out = FALSE, explicitly); the dispatcher creates the deliveries for
-- the endpoints enabled at that moment and sets fanned_out. The column
-- defaults to TRUE so that the events that exist already, and those written
-- by a replica still running the previous version (which writes the
-- deliveries itself, inside the business transaction), count as fanned out.
ALTER TABLE events ADD COLUMN fanned_out BOOLEAN NOT NULL DEFAULT TRUE
-- statement
CREATE INDEX events_unfanned ON events (created_at) WHERE NOT fanned_out
