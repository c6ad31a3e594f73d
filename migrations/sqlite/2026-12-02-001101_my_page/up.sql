-- The consulter's own page (/my, CONTRACT §10). A consultation given a passphrase can be read
-- there; the passphrase is kept only as an argon2id hash and is gone once staff end the access.
CREATE TABLE my_access (
    ticket_id BIGINT PRIMARY KEY REFERENCES tickets (id),
    passphrase_hash TEXT,
    -- Mail to this consulter says only that something is waiting, with the link to /my.
    notice_only BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP,
    ended_by BIGINT REFERENCES staff (id)
);

-- Sign-ins on the page, found by the SHA-256 of their token (never the token itself).
CREATE TABLE my_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX my_sessions_ticket ON my_sessions (ticket_id);

-- Every time the consulter read their thread: their own history, apart from the staff audit.
CREATE TABLE my_reads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    session_id BIGINT NOT NULL REFERENCES my_sessions (id),
    -- The newest message shown by that read.
    last_message_id BIGINT,
    at TIMESTAMP NOT NULL
);
CREATE INDEX my_reads_ticket ON my_reads (ticket_id, at);

-- Failed page sign-ins, for throttling per reference and per client address.
CREATE TABLE my_sign_in_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    reference TEXT NOT NULL,
    client_addr TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX my_sign_in_failures_reference ON my_sign_in_failures (reference, at);
CREATE INDEX my_sign_in_failures_client ON my_sign_in_failures (client_addr, at);
