"""The kiosk's Tkinter window: live feed with boxes, access banner, status bar, staff panel of denials.

Only ``kiosk.commands.run`` imports this package, so the command-line tools never load Tk.
"""
