"""Site evaluation: plays a site's annotated photos (PASCAL VOC) through the kiosk's own code.

Hands on per-class figures (granted, denied, missed) that say how the kiosk will do at that door.
"""
