DROP INDEX outbound_mail_ack_cap;
