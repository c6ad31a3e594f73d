DROP INDEX tickets_erasable;
ALTER TABLE consulters DROP COLUMN erased_at;
ALTER TABLE tickets DROP COLUMN erased_at;
ALTER TABLE tickets DROP COLUMN legal_hold;
ALTER TABLE tickets DROP COLUMN closed_at;
