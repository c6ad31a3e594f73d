DO $$
DECLARE
    col TEXT;
BEGIN
    FOREACH col IN ARRAY ARRAY[
        'messages.body_text', 'messages.raw_mime', 'attachments.content', 'outbound_mail.raw',
        'quarantine.raw', 'drafts.body_text', 'text_modules.body'
    ] LOOP
        BEGIN
            EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET COMPRESSION default',
                split_part(col, '.', 1), split_part(col, '.', 2));
        EXCEPTION WHEN syntax_error THEN
            NULL;
        END;
    END LOOP;
END $$;
