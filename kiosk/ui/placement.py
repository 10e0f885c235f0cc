"""Where the staff's windows (PIN dialog, admin panel) open: over the kiosk window, never larger
than it, and in its upper part, so the visitor's banner below stays in sight where there is room."""

from __future__ import annotations

import tkinter as tk

UPPER_PART = 0.62  # a window is centred in this top share of the kiosk window, above the banner


def geometry_over(root: tk.Misc, width: int, height: int) -> str:
    """``WxH+X+Y`` for a window of ``width`` x ``height`` at most (less when the kiosk window is
    smaller), over the kiosk window and always on the screen. A kiosk window not shown (a test's
    withdrawn root) counts as the whole screen."""
    owner = root.winfo_toplevel()
    owner.update_idletasks()
    screen = owner.winfo_screenwidth(), owner.winfo_screenheight()
    if owner.winfo_viewable() and owner.winfo_width() > 1:
        left, top, owner_width, owner_height = (owner.winfo_rootx(), owner.winfo_rooty(), owner.winfo_width(),
                                                owner.winfo_height())
    else:
        left, top, (owner_width, owner_height) = 0, 0, screen
    width, height = min(width, owner_width), min(height, owner_height)
    x = left + (owner_width - width) // 2
    y = top + max(0, (int(owner_height * UPPER_PART) - height) // 2)
    x = max(0, min(x, screen[0] - width))
    y = max(0, min(y, screen[1] - height))
    return f"{width}x{height}+{x}+{y}"
