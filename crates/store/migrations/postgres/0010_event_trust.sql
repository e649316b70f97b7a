-- Whether an event's contact details were the shopper's (`verified`) or only claims (`claimed`:
-- a public key, such as a Segment browser write key). `cartback simulate` replays the log with
-- each event's own trust. Events logged before this migration replay as verified.
ALTER TABLE events ADD COLUMN trust TEXT NOT NULL DEFAULT 'verified';
