"""Door stage: turns per-frame face results into one decision per visitor (granted / denied).

Hands on each ``DecisionEvent`` to the event services and the window (or stdout when headless).
"""
