-- Case fields for the city's yearly figures (CONTRACT §9): one row per recorded code, so a
-- field with several codes (purposes, prior_agencies, referred_to) needs no list in a column
-- and the report counts them with one GROUP BY. Apart from the ticket's personal data, so
-- erasing a ticket's names, addresses and texts leaves them as they are.
CREATE TABLE ticket_case_values (
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    field TEXT NOT NULL,
    code TEXT NOT NULL,
    PRIMARY KEY (ticket_id, field, code)
);

-- A consultation is counted where the consulter's messages are: by kind and time, the ticket
-- at hand for the join, so the yearly counts read the index alone.
CREATE INDEX messages_contacts ON messages (kind, created_at, automatic, ticket_id);

-- One consulter per address whatever its letter case: people are counted by consulters.id.
-- Rows that differ only in case are merged into the oldest first.
UPDATE tickets SET consulter_id = (
    SELECT MIN(c2.id) FROM consulters c1
    JOIN consulters c2 ON lower(c2.email) = lower(c1.email)
    WHERE c1.id = tickets.consulter_id
);
DELETE FROM consulters WHERE EXISTS (
    SELECT 1 FROM consulters c2
    WHERE lower(c2.email) = lower(consulters.email) AND c2.id < consulters.id
);
CREATE UNIQUE INDEX consulters_email_lower ON consulters (lower(email));
