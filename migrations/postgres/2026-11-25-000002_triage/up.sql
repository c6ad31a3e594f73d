-- Urgent-risk flags raised on consulter messages, and what staff decided about them.
CREATE TABLE triage_flags (
    id BIGSERIAL PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    message_id BIGINT NOT NULL REFERENCES messages (id),
    -- Category names, comma-separated; never the text itself.
    categories TEXT NOT NULL,
    -- SHA-256 of the normalised text, so a cleared text does not flag the ticket again.
    text_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('flagged', 'confirmed', 'cleared')),
    decided_by BIGINT REFERENCES staff (id),
    decision_reason TEXT,
    decided_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX triage_flags_ticket ON triage_flags (ticket_id, id);
CREATE INDEX triage_flags_created ON triage_flags (created_at);
