DROP TABLE reviews;
ALTER TABLE staff DROP COLUMN review_replies;
