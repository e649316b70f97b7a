-- Flows paused through the admin API: every instance reads them (a paused flow enrols nothing
-- and its runs wait until it is resumed).
CREATE TABLE flow_state (
    flow_id     TEXT    PRIMARY KEY,
    paused      INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
