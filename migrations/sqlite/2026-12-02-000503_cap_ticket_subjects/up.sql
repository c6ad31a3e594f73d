-- Stored subjects and names are capped (200 and 100 characters; the raw mail keeps them
-- whole): tickets that came before the cap are cut the same way, so no queue page carries
-- a subject of megabytes.
UPDATE tickets SET subject = substr(subject, 1, 199) || '…' WHERE length(subject) > 200;
UPDATE tickets SET consulter_name = substr(consulter_name, 1, 99) || '…'
    WHERE length(consulter_name) > 100;
