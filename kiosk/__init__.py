"""Mask kiosk: an entrance terminal that grants access only to people wearing a face mask.

The data path, one package per stage:
    camera/ -> vision/ -> door/ -> events/ -> ui/ (the window)
with commands/ (``main.py``'s commands) and evaluation/ (how the kiosk does at a site) beside it,
and config, records and errors shared by all.
"""

PRODUCT_NAME = "Mask kiosk"
