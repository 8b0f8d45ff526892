"""Lab 01: one slow "report", served in ways that freeze the server and ways that do not."""
