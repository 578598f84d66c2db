#!/usr/bin/python3
"""close-window.py TITLE — asks the X window titled TITLE to close, exactly as a window
manager's close button does (a WM_DELETE_WINDOW client message), so tests and benchmarks
exercise the app's real close path on an Xvfb display that has no window manager."""
import sys

from Xlib import X, display, protocol


def find(window, title, d):
    name = window.get_wm_name()
    if name == title:
        return window
    for child in window.query_tree().children:
        found = find(child, title, d)
        if found:
            return found
    return None


def main():
    d = display.Display()
    window = find(d.screen().root, sys.argv[1], d)
    if window is None:
        print(f"no window titled {sys.argv[1]!r}", file=sys.stderr)
        return 1
    delete = d.intern_atom("WM_DELETE_WINDOW")
    protocols = d.intern_atom("WM_PROTOCOLS")
    event = protocol.event.ClientMessage(window=window, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0]))
    window.send_event(event, event_mask=X.NoEventMask)
    d.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
