-- The inbox (see the SQLite migration). PostgreSQL instances commit webhooks inline and never
-- fill it; the table exists so both schemas stay the same.
CREATE TABLE inbox (
    seq          BIGSERIAL PRIMARY KEY,
    source_id    TEXT    NOT NULL,
    received_at  BIGINT  NOT NULL,
    events       TEXT    NOT NULL
);
