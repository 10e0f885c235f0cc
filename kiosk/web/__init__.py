"""Web console: administrators see every kiosk, its events, reports and health in a browser.

Takes events from the fleet store (PostgreSQL) or a kiosk's own SQLite log; hands on pages.
"""
