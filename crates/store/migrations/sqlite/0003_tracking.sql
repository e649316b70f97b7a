-- Tracked links: the URLs a message may redirect to, by index; and the hub's own keys.

CREATE TABLE message_links (
    message_id  TEXT    NOT NULL,
    idx         INTEGER NOT NULL,
    url         TEXT    NOT NULL,
    PRIMARY KEY (message_id, idx)
) WITHOUT ROWID;

CREATE TABLE hub_keys (
    name        TEXT    PRIMARY KEY,
    value       BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;
