-- Conversions: an order credited to a flow run (and, when a message touched it, to that message's
-- step, channel and variant). Holdout runs convert for the control group.
CREATE TABLE conversions (
    source_id      TEXT    NOT NULL,
    order_id       TEXT    NOT NULL,
    run_id         TEXT    NOT NULL,
    flow_id        TEXT    NOT NULL,
    variant        TEXT,
    holdout        INTEGER NOT NULL,
    message_id     TEXT,
    step           INTEGER,
    channel_id     TEXT,
    touch          TEXT    NOT NULL,
    revenue_minor  INTEGER NOT NULL,
    currency       TEXT    NOT NULL,
    placed_at      INTEGER NOT NULL,
    enrolled_at    INTEGER NOT NULL,
    PRIMARY KEY (source_id, order_id, run_id)
);
CREATE INDEX conversions_flow ON conversions (flow_id, enrolled_at);
CREATE INDEX flow_runs_flow ON flow_runs (flow_id, enrolled_at);
CREATE INDEX outbox_run ON outbox (run_id);
CREATE INDEX orders_contact ON orders (contact_id, placed_at);
