DROP INDEX messages_ticket;
CREATE INDEX messages_ticket ON messages (ticket_id, id);
DROP INDEX messages_contacts;
CREATE INDEX messages_contacts ON messages (kind, created_at, automatic, ticket_id);
