#!/usr/bin/python3
"""x-window.py close|shown TITLE — on an X display with no window manager (Xvfb):
`close` asks the window titled TITLE to close exactly as a window manager's close button does
(a WM_DELETE_WINDOW client message); `shown` exits 0 when a mapped window titled TITLE exists.
Tests and benchmarks use it to exercise the app's real close path."""
import sys

from Xlib import X, display, protocol


def windows(window, title):
    try:
        if window.get_wm_name() == title:
            yield window
        for child in window.query_tree().children:
            yield from windows(child, title)
    except Exception:  # a window can vanish while we walk the tree
        return


def main():
    action, title = sys.argv[1], sys.argv[2]
    d = display.Display()
    found = list(windows(d.screen().root, title))
    if action == "shown":
        return 0 if any(w.get_attributes().map_state == X.IsViewable for w in found) else 1
    if not found:
        print(f"no window titled {title!r}", file=sys.stderr)
        return 1
    delete = d.intern_atom("WM_DELETE_WINDOW")
    protocols = d.intern_atom("WM_PROTOCOLS")
    for window in found:
        event = protocol.event.ClientMessage(window=window, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0]))
        window.send_event(event, event_mask=X.NoEventMask)
    d.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
