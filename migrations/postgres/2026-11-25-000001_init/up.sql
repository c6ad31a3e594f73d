-- All times are UTC, stored without zone.

CREATE TABLE staff (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('counsellor', 'supervisor')),
    password_hash TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL,
    deactivated_at TIMESTAMP
);

CREATE TABLE sessions (
    id BIGSERIAL PRIMARY KEY,
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    client_addr TEXT
);
CREATE INDEX sessions_staff ON sessions (staff_id);

-- Failed sign-ins, for throttling per account and per client address across instances.
CREATE TABLE login_failures (
    id BIGSERIAL PRIMARY KEY,
    account TEXT NOT NULL,
    client_addr TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_account ON login_failures (account, at);
CREATE INDEX login_failures_client ON login_failures (client_addr, at);

CREATE TABLE consulters (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE tickets (
    id BIGSERIAL PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('new', 'open', 'waiting', 'closed')),
    channel TEXT NOT NULL CHECK (channel IN ('web_form', 'email')),
    urgent BOOLEAN NOT NULL DEFAULT FALSE,
    urgent_reasons TEXT,
    consulter_id BIGINT NOT NULL REFERENCES consulters (id),
    assignee_id BIGINT REFERENCES staff (id),
    relationship TEXT,
    age_group TEXT,
    area TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    -- Copied from the running reply clock so the queue sorts and pages on one index.
    clock_started_at TIMESTAMP,
    reply_due_at TIMESTAMP,
    -- reply_due_at, or the far future when no clock runs: the queue's sort key without NULLs,
    -- which the two backends would order differently.
    queue_due_at TIMESTAMP NOT NULL
);
CREATE INDEX tickets_queue ON tickets (urgent DESC, queue_due_at, id);
CREATE INDEX tickets_open_queue ON tickets (urgent DESC, queue_due_at, id) WHERE status <> 'closed';
CREATE INDEX tickets_status ON tickets (status, urgent DESC, queue_due_at, id);
-- The queue filtered by assignee, in queue order (no sort).
CREATE INDEX tickets_assignee ON tickets (assignee_id, urgent DESC, queue_due_at, id);
CREATE INDEX tickets_consulter ON tickets (consulter_id);

CREATE TABLE messages (
    id BIGSERIAL PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    kind TEXT NOT NULL CHECK (kind IN ('inbound', 'outbound', 'note')),
    author_id BIGINT REFERENCES staff (id),
    subject TEXT,
    body_text TEXT NOT NULL,
    -- RFC 5322 Message-ID without angle brackets: ours for outbound, the sender's for inbound.
    rfc_message_id TEXT UNIQUE,
    in_reply_to TEXT,
    references_header TEXT,
    from_address TEXT,
    automatic BOOLEAN NOT NULL DEFAULT FALSE,
    -- Inbound mail exactly as received.
    raw_mime BYTEA,
    -- Remarks the system made, e.g. an attachment left out for its size.
    system_note TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX messages_ticket ON messages (ticket_id, id);

CREATE TABLE attachments (
    id BIGSERIAL PRIMARY KEY,
    message_id BIGINT NOT NULL REFERENCES messages (id),
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    content BYTEA NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX attachments_message ON attachments (message_id);

CREATE TABLE reply_clocks (
    id BIGSERIAL PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    started_at TIMESTAMP NOT NULL,
    due_at TIMESTAMP NOT NULL,
    started_by_message_id BIGINT REFERENCES messages (id),
    stopped_at TIMESTAMP,
    stopped_by_staff_id BIGINT REFERENCES staff (id),
    stopped_by_message_id BIGINT REFERENCES messages (id),
    due_soon_alerted_at TIMESTAMP,
    overdue_alerted_at TIMESTAMP
);
CREATE INDEX reply_clocks_ticket ON reply_clocks (ticket_id);
CREATE INDEX reply_clocks_due ON reply_clocks (due_at);
CREATE UNIQUE INDEX reply_clocks_one_running ON reply_clocks (ticket_id) WHERE stopped_at IS NULL;

-- The outbox: every mail we send, rendered once when queued so each retry sends the same bytes.
CREATE TABLE outbound_mail (
    id BIGSERIAL PRIMARY KEY,
    message_id BIGINT REFERENCES messages (id),
    ticket_id BIGINT REFERENCES tickets (id),
    kind TEXT NOT NULL,
    to_address TEXT NOT NULL,
    rfc_message_id TEXT NOT NULL UNIQUE,
    raw BYTEA NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    locked_by TEXT,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX outbound_mail_due ON outbound_mail (status, next_attempt_at);
CREATE INDEX outbound_mail_message ON outbound_mail (message_id);
CREATE INDEX outbound_mail_to ON outbound_mail (to_address, kind, created_at);

CREATE TABLE audit_events (
    id BIGSERIAL PRIMARY KEY,
    at TIMESTAMP NOT NULL,
    staff_id BIGINT REFERENCES staff (id),
    action TEXT NOT NULL,
    ticket_id BIGINT REFERENCES tickets (id),
    target TEXT,
    client_addr TEXT,
    detail TEXT
);
CREATE INDEX audit_events_ticket ON audit_events (ticket_id, id);
CREATE INDEX audit_events_staff ON audit_events (staff_id, id);

-- Mail that could not be taken, kept byte for byte with the reason.
CREATE TABLE quarantine (
    id BIGSERIAL PRIMARY KEY,
    received_at TIMESTAMP NOT NULL,
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    raw BYTEA NOT NULL,
    retried_at TIMESTAMP,
    resolved_at TIMESTAMP
);

CREATE TABLE imap_state (
    mailbox TEXT PRIMARY KEY,
    uidvalidity BIGINT NOT NULL,
    last_uid BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- One row per alert or digest sent, so each goes out once across restarts and instances.
CREATE TABLE alerts_sent (
    key TEXT PRIMARY KEY,
    sent_at TIMESTAMP NOT NULL
);
