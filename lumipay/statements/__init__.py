"""Account statements for a date range, as CSV and PDF."""
