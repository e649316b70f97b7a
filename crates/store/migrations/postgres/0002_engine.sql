-- The engine: durable timers, flow runs and their step log, the outbox, message events, tags,
-- discount code allocation.

CREATE TABLE timers (
    id           BIGSERIAL PRIMARY KEY,
    kind         TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    due_at       BIGINT NOT NULL,
    lease_until  BIGINT,
    attempts     BIGINT NOT NULL DEFAULT 0,
    UNIQUE (kind, subject)
);
CREATE INDEX timers_due ON timers (due_at);

CREATE TABLE flow_runs (
    id           TEXT    PRIMARY KEY,
    flow_id      TEXT    NOT NULL,
    cart_id      TEXT    NOT NULL,
    contact_id   TEXT,
    variant      TEXT,
    holdout      BIGINT NOT NULL,
    status       TEXT    NOT NULL,
    step         BIGINT NOT NULL,
    test         BIGINT NOT NULL DEFAULT 0,
    enrolled_at  BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    exit_reason  TEXT
);
CREATE UNIQUE INDEX flow_runs_one_per_cart ON flow_runs (flow_id, cart_id) WHERE test = 0;
CREATE INDEX flow_runs_contact ON flow_runs (contact_id, flow_id, enrolled_at);
CREATE INDEX flow_runs_cart ON flow_runs (cart_id);

CREATE TABLE run_steps (
    run_id   TEXT    NOT NULL,
    step     BIGINT NOT NULL,
    outcome  TEXT    NOT NULL,
    detail   TEXT,
    at       BIGINT NOT NULL,
    PRIMARY KEY (run_id, step, outcome)
);

CREATE TABLE outbox (
    id                   TEXT    PRIMARY KEY,
    run_id               TEXT    NOT NULL,
    step                 BIGINT NOT NULL,
    channel_id           TEXT    NOT NULL,
    contact_id           TEXT,
    cart_id              TEXT,
    status               TEXT    NOT NULL,
    message              TEXT    NOT NULL,
    attempts             BIGINT NOT NULL DEFAULT 0,
    next_attempt_at      BIGINT NOT NULL,
    lease_until          BIGINT,
    provider_message_id  TEXT,
    last_error           TEXT,
    test                 BIGINT NOT NULL DEFAULT 0,
    created_at           BIGINT NOT NULL,
    sent_at              BIGINT,
    UNIQUE (run_id, step)
);
CREATE INDEX outbox_due ON outbox (channel_id, status, next_attempt_at);
CREATE INDEX outbox_contact ON outbox (contact_id, channel_id, created_at);

CREATE TABLE message_events (
    message_id  TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    at          BIGINT NOT NULL,
    url         TEXT,
    PRIMARY KEY (message_id, status, at)
);

CREATE TABLE contact_tags (
    contact_id  TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    tag         TEXT NOT NULL,
    PRIMARY KEY (contact_id, tag)
);

CREATE TABLE discount_codes (
    flow_id   TEXT NOT NULL,
    code      TEXT NOT NULL,
    run_id    TEXT NOT NULL,
    step      BIGINT NOT NULL,
    PRIMARY KEY (flow_id, code),
    UNIQUE (run_id, step)
);
