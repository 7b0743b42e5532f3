"""Use cases. They open units of work on the database and call domain rules; no protocol dicts."""
