"""Camera stage: opens a camera, stream, video, image folder or the demo, and reads frames.

Hands on the newest frame (BGR, with its time and source kind) to vision through a one-slot queue.
"""
