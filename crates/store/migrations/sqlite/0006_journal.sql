-- The ingest journal (SQLite only; see crates/store/src/journal.rs). Every journal record up to
-- applied_seq has been applied (or set aside below), in the transaction that applied it.
CREATE TABLE journal_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    applied_seq INTEGER NOT NULL
);
INSERT INTO journal_state (id, applied_seq) VALUES (1, 0);

-- Records that failed to apply again and again: kept whole, with the last error, for an operator.
CREATE TABLE journal_failed (
    seq       INTEGER PRIMARY KEY,
    record    TEXT    NOT NULL,
    error     TEXT    NOT NULL,
    failed_at INTEGER NOT NULL
);
