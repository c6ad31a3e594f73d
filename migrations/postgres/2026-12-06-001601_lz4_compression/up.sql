-- Mail, texts and attachments are compressed with lz4 when PostgreSQL moves them out of line
-- (past about 2 KB): pglz, the default, took about a tenth of the server's time storing a mail
-- and its acknowledgement. Values already stored stay as they are. A server built without
-- lz4 (or older than 14) keeps pglz: nothing else depends on it.
DO $$
DECLARE
    col TEXT;
BEGIN
    FOREACH col IN ARRAY ARRAY[
        'messages.body_text', 'messages.raw_mime', 'attachments.content', 'outbound_mail.raw',
        'quarantine.raw', 'drafts.body_text', 'text_modules.body'
    ] LOOP
        BEGIN
            EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET COMPRESSION lz4',
                split_part(col, '.', 1), split_part(col, '.', 2));
        EXCEPTION WHEN feature_not_supported OR syntax_error THEN
            RAISE NOTICE 'lz4 compression not available, % keeps the default', col;
        END;
    END LOOP;
END $$;
