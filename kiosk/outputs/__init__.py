"""Outputs stage: takes each ``DecisionEvent`` the door stage decides and tells the world outside the kiosk.

Hands on a relay pulse to the door strike on a live grant (serial, GPIO or HTTP relay); nothing comes back.
"""
