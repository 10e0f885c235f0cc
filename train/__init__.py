"""Training and evaluation of the mask classifier (imports TensorFlow; the kiosk never imports this)."""
