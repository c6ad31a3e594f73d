-- Retention (docs/CONTRACT.md §9): when a ticket was closed (set by every change of status;
-- tickets closed before this migration take the time of their last change), whether a
-- supervisor keeps it from erasure, and when its personal data was erased.
ALTER TABLE tickets ADD COLUMN closed_at TIMESTAMP;
ALTER TABLE tickets ADD COLUMN legal_hold BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE tickets ADD COLUMN erased_at TIMESTAMP;
UPDATE tickets SET closed_at = updated_at WHERE status = 'closed';
CREATE INDEX tickets_erasable ON tickets (closed_at, id) WHERE status = 'closed' AND erased_at IS NULL;
-- A consulter whose every ticket was erased keeps its row (and id, so distinct people are
-- still counted) without its address or name.
ALTER TABLE consulters ADD COLUMN erased_at TIMESTAMP;
