-- What started a run that no cart abandonment started: `event:<log seq>` (a tracked event, whose
-- properties its templates read) or `tag:<name>`. NULL for abandonment runs.
ALTER TABLE flow_runs ADD COLUMN trigger_ref TEXT;
