-- Reply review (CONTRACT §8): a supervisor can require that a counsellor's replies are read
-- before they go out.
ALTER TABLE staff ADD COLUMN review_replies BOOLEAN NOT NULL DEFAULT FALSE;

-- A reply held for review. Its text is the message (stored as an internal note, so nothing
-- that reads the thread for a consulter or counts replies takes it for a sent mail); on
-- approval that message becomes the outbound reply.
CREATE TABLE reviews (
    message_id BIGINT NOT NULL PRIMARY KEY REFERENCES messages (id),
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    author_id BIGINT NOT NULL REFERENCES staff (id),
    status TEXT NOT NULL CHECK (status IN ('awaiting_review', 'returned', 'approved')),
    -- 'counsellor' (the author is reviewed) or 'urgent' (review.urgent_tickets)
    reason TEXT NOT NULL,
    -- The author's choice: close the ticket with this reply (送信して終了).
    close_ticket BOOLEAN NOT NULL,
    -- When it last went into review (written, or sent again after a return).
    submitted_at TIMESTAMP NOT NULL,
    -- The supervisors' reminder, claimed once per submission.
    reminded_at TIMESTAMP,
    comment TEXT,
    decided_by BIGINT REFERENCES staff (id),
    decided_at TIMESTAMP,
    edited BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX reviews_by_status ON reviews (status, submitted_at);
CREATE INDEX reviews_by_ticket ON reviews (ticket_id, status);
