-- Tracked links: the URLs a message may redirect to, by index; and the hub's own keys.

CREATE TABLE message_links (
    message_id  TEXT    NOT NULL,
    idx         BIGINT NOT NULL,
    url         TEXT    NOT NULL,
    PRIMARY KEY (message_id, idx)
);

CREATE TABLE hub_keys (
    name        TEXT    PRIMARY KEY,
    value       BYTEA    NOT NULL,
    created_at  BIGINT NOT NULL
);
