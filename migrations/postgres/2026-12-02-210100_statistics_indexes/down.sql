DROP INDEX messages_contacts_by_ticket;
DROP INDEX messages_contacts;
CREATE INDEX messages_contacts ON messages (kind, created_at, automatic, ticket_id);
