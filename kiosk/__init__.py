"""Mask kiosk: an entrance terminal that grants access only to people wearing a face mask.

The data path, one module per step:
    sources -> capture -> detection -> classifier -> pipeline -> decision -> (events, alerts, ui)
"""

PRODUCT_NAME = "Mask kiosk"
