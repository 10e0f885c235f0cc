"""Outputs stage: takes each ``DecisionEvent`` the door stage decides and tells the world outside the kiosk.

Hands on a relay pulse to the door strike on a live grant (serial, GPIO or HTTP relay), and each event
to the building's systems through the durable outbox (MQTT, webhooks); only MQTT commands come back.
"""
