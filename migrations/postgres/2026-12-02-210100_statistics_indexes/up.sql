-- Issue 16, the fiscal-year statistics at a million tickets:
-- staff replies counted on the contacts' index (it now carries the author);
DROP INDEX messages_contacts;
CREATE INDEX messages_contacts ON messages (kind, created_at, automatic, ticket_id, author_id);
-- whether a person wrote before the year, by their tickets, without reading the messages.
DROP INDEX messages_ticket;
CREATE INDEX messages_ticket ON messages (ticket_id, id, kind, automatic, created_at);
