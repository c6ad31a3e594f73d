DROP INDEX my_sign_in_failures_at;
DROP INDEX login_failures_at;
