"""Fleet stage: takes each kiosk's recorded events (its SQLite log) and copies them into one PostgreSQL store.

Hands on one place where every entrance's events, thumbnails and heartbeat can be read: the web console.
"""
