"""Events stage: records every decision with its snapshot, then alerts and reports durably.

Hands on nothing further: the SQLite log and its outbox are the record of who came to the door.
"""
