-- The spine: delivery dedupe, the event log, and the cart / contact / order projections.
-- Times are BIGINT milliseconds since the Unix epoch (UTC), so comparisons are exact and portable.

CREATE TABLE deliveries (
    source_id    TEXT    NOT NULL,
    delivery_id  TEXT    NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (source_id, delivery_id)
);

CREATE TABLE events (
    seq          BIGSERIAL PRIMARY KEY,
    source_id    TEXT    NOT NULL,
    event_id     TEXT    NOT NULL,
    topic        TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    occurred_at  BIGINT NOT NULL,
    received_at  BIGINT NOT NULL,
    outcome      TEXT    NOT NULL,
    cart_id      TEXT,
    contact_id   TEXT,
    payload      TEXT    NOT NULL,
    UNIQUE (source_id, event_id)
);
CREATE INDEX events_cart ON events (cart_id);
CREATE INDEX events_contact ON events (contact_id);

CREATE TABLE contacts (
    id             TEXT    PRIMARY KEY,
    source_id      TEXT    NOT NULL,
    email          TEXT,
    email_norm     TEXT    UNIQUE,
    phone          TEXT    UNIQUE,
    first_name     TEXT,
    last_name      TEXT,
    locale         TEXT,
    time_zone      TEXT,
    email_consent  TEXT    NOT NULL DEFAULT 'unknown',
    sms_consent    TEXT    NOT NULL DEFAULT 'unknown',
    external_id    TEXT,
    updated_at     BIGINT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX contacts_external ON contacts (source_id, external_id);

CREATE TABLE carts (
    id              TEXT    PRIMARY KEY,
    source_id       TEXT    NOT NULL,
    cart_key        TEXT    NOT NULL,
    cart_token      TEXT,
    checkout_token  TEXT,
    platform_id     TEXT,
    status          TEXT    NOT NULL,
    contact_id      TEXT    REFERENCES contacts (id) ON DELETE SET NULL,
    items           TEXT    NOT NULL,
    item_count      BIGINT NOT NULL,
    currency        TEXT    NOT NULL,
    subtotal_minor  BIGINT,
    total_minor     BIGINT NOT NULL,
    recovery_url    TEXT,
    updated_at      BIGINT NOT NULL,
    completed_at    BIGINT,
    converted_at    BIGINT,
    order_id        TEXT,
    created_at      BIGINT NOT NULL,
    UNIQUE (source_id, cart_key)
);
CREATE INDEX carts_checkout_token ON carts (source_id, checkout_token);
CREATE INDEX carts_cart_token ON carts (source_id, cart_token);
CREATE INDEX carts_contact ON carts (contact_id, updated_at);

CREATE TABLE orders (
    source_id       TEXT    NOT NULL,
    order_id        TEXT    NOT NULL,
    name            TEXT,
    cart_id         TEXT,
    contact_id      TEXT    REFERENCES contacts (id) ON DELETE SET NULL,
    checkout_token  TEXT,
    cart_token      TEXT,
    email_norm      TEXT,
    total_minor     BIGINT NOT NULL,
    currency        TEXT    NOT NULL,
    placed_at       BIGINT NOT NULL,
    test            BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (source_id, order_id)
);
CREATE INDEX orders_cart ON orders (cart_id);
