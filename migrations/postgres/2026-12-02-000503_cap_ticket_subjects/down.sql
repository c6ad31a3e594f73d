SELECT 1; -- the cut text is not brought back; the raw mail keeps it
