DROP INDEX consulters_email_lower;
DROP INDEX messages_contacts;
DROP TABLE ticket_case_values;
