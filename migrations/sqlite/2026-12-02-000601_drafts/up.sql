-- Replies a counsellor is still writing, one per ticket and staff member, kept on the server
-- so that a closed tab or another device loses nothing. Removed when the reply is sent.
CREATE TABLE drafts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    body_text TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (ticket_id, staff_id)
);
