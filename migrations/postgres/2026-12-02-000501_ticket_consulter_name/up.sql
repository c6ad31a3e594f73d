-- Each ticket keeps the consulter's name as given with it (docs/CONTRACT.md §6): a later
-- submission from the same address never renames the person on earlier tickets.
ALTER TABLE tickets ADD COLUMN consulter_name TEXT;
UPDATE tickets SET consulter_name = (
    SELECT consulters.name FROM consulters WHERE consulters.id = tickets.consulter_id
);
