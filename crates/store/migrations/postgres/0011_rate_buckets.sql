-- A channel's `rate` for the whole deployment: one token bucket per channel that every instance
-- takes blocks of tokens from (Outbox::take_send_tokens; the engine's rate.rs hands them out one
-- by one). `tokens` may be fractional; `refreshed_at` is milliseconds of the database's clock;
-- `granted` is what the last statement gave (read back by its RETURNING). SQLite has no twin:
-- one process owns a SQLite database, and its own pacing is already the deployment's.
CREATE TABLE rate_buckets (
    channel_id TEXT PRIMARY KEY,
    tokens DOUBLE PRECISION NOT NULL,
    granted BIGINT NOT NULL,
    refreshed_at BIGINT NOT NULL
);
