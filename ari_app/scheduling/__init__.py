"""APScheduler 3.x jobs, always rebuilt from the database (the only source of truth)."""
