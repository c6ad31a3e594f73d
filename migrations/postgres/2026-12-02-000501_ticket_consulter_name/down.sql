ALTER TABLE tickets DROP COLUMN consulter_name;
