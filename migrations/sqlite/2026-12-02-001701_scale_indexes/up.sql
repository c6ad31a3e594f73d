-- Issue 16, at a million tickets and three million reply clocks:
-- a counsellor's open work in queue order, without walking their closed tickets;
CREATE INDEX tickets_open_assignee ON tickets (assignee_id, urgent DESC, queue_due_at, id)
    WHERE status <> 'closed';
-- the clocks running now, by due time (the overdue report at the present instant);
CREATE INDEX reply_clocks_running_due ON reply_clocks (due_at, id) WHERE stopped_at IS NULL;
-- clocks stopped after an instant (the overdue report at a past one);
CREATE INDEX reply_clocks_stopped ON reply_clocks (stopped_at);
-- a year of SLA read from the index alone.
CREATE INDEX reply_clocks_due_cover
    ON reply_clocks (due_at, started_at, stopped_at, stopped_by_staff_id, ticket_id);
