-- The inbox: under load, a webhook's translated events are committed here (with its delivery ids
-- in `deliveries`) and answered 202; the projector applies them to carts, contacts and timers
-- when the writer is free, deleting each row in the same transaction.
CREATE TABLE inbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id    TEXT    NOT NULL,
    received_at  INTEGER NOT NULL,
    events       TEXT    NOT NULL
);
