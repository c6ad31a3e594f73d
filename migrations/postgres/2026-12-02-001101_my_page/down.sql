DROP TABLE my_sign_in_failures;
DROP TABLE my_reads;
DROP TABLE my_sessions;
DROP TABLE my_access;
