"""Training and evaluation of the mask classifier (imports TensorFlow; the kiosk never imports this)."""

import os

# TensorFlow's C++ start-up chatter (CUDA probing, CPU feature notes) hides the progress lines
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
