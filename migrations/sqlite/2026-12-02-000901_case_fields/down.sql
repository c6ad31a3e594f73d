DROP INDEX consulters_email_key;
DROP INDEX messages_contacts;
DROP TABLE ticket_case_values;
