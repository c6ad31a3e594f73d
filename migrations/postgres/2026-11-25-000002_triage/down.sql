DROP TABLE triage_flags;
