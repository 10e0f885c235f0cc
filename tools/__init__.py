"""Measurement tools, apart from the product: benchmarks, studies, soaks and drills.

Run them as ``python -m tools.<name>``; ``kiosk/`` never imports from here.
"""
