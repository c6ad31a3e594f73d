-- Text modules (定型文) supervisors keep for counsellors' replies; placeholders such as
-- {{consulter_name}} are filled in when one is put into a reply.
CREATE TABLE text_modules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES staff (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
