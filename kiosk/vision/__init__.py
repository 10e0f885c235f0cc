"""Vision stage: finds faces in a frame and classifies each crop as mask / no mask / badly worn.

Hands on one ``FaceResult`` (box, label, score) per face to the door's decision engine.
"""
