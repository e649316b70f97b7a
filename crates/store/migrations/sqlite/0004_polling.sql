-- Where each polled source resumes.
CREATE TABLE poll_cursors (
    source_id   TEXT    PRIMARY KEY,
    cursor      TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL
);
