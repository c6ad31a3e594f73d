-- The daily acknowledgement cap compares addresses without letter case.
CREATE INDEX outbound_mail_ack_cap ON outbound_mail (lower(to_address), created_at)
    WHERE kind = 'acknowledgement';
