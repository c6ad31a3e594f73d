-- Failed sign-ins older than the cooling-off no longer count: each attempt deletes them by this.
CREATE INDEX login_failures_at ON login_failures (at);
CREATE INDEX my_sign_in_failures_at ON my_sign_in_failures (at);
