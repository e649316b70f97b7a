-- "Why they left": a shopper's answer to the one-question survey of a reminder. One answer per
-- cart (asked once per cart: a second answer, from another message or a double submit, changes
-- nothing). The band is the cart's value band when answered, decided by the engine.
CREATE TABLE survey_answers (
    id           TEXT    PRIMARY KEY,
    cart_id      TEXT    NOT NULL UNIQUE,
    survey_id    TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    text         TEXT,
    contact_id   TEXT,
    flow_id      TEXT    NOT NULL,
    run_id       TEXT    NOT NULL,
    step         INTEGER NOT NULL,
    variant      TEXT,
    message_id   TEXT    NOT NULL,
    channel_id   TEXT    NOT NULL,
    value_band   TEXT    NOT NULL,
    total_minor  INTEGER,
    currency     TEXT,
    test         INTEGER NOT NULL DEFAULT 0,
    answered_at  INTEGER NOT NULL
);
CREATE INDEX survey_answers_flow ON survey_answers (flow_id, answered_at);
CREATE INDEX survey_answers_contact ON survey_answers (contact_id);
