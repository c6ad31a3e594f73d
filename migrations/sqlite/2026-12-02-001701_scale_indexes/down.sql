DROP INDEX reply_clocks_due_cover;
DROP INDEX reply_clocks_stopped;
DROP INDEX reply_clocks_running_due;
DROP INDEX tickets_open_assignee;
