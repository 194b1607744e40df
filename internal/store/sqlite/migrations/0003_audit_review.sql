-- Schema version 3: indexes for reviewing the audit log by actor and by
-- target (such as a key's history), newest or oldest first.

CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_target ON audit_events (target, seq);
