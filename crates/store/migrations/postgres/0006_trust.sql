-- Contact details from a public key (a Segment browser write key) are claims: kept, never sent
-- to until a verified source reports the same address (docs/SECURITY.md). Rows written before
-- this migration came from verified sources or predate the distinction: they stay sendable.
ALTER TABLE contacts ADD COLUMN email_verified BIGINT NOT NULL DEFAULT 1;
ALTER TABLE contacts ADD COLUMN phone_verified BIGINT NOT NULL DEFAULT 1;
-- An opt-out the shopper made through the hub's own unsubscribe link: no provider's
-- resubscribe (SendGrid group_resubscribe, a platform's consent report) overrides it.
ALTER TABLE contacts ADD COLUMN email_optout_hub BIGINT NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN sms_optout_hub BIGINT NOT NULL DEFAULT 0;
