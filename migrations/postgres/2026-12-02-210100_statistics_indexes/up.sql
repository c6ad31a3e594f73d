-- Issue 16, the fiscal-year statistics at a million tickets:
-- staff replies counted on the contacts' index (it now carries the author);
DROP INDEX messages_contacts;
CREATE INDEX messages_contacts ON messages (kind, created_at, automatic, ticket_id, author_id);
-- whether a person wrote before the year: the contacts by ticket, a few entries each,
-- without reading the messages (partial: staff replies and notes are not contacts).
CREATE INDEX messages_contacts_by_ticket ON messages (ticket_id, created_at)
    WHERE kind = 'inbound' AND automatic = FALSE;
