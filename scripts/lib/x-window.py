#!/usr/bin/python3
"""x-window.py close|shown|class|press|type|drop TITLE [PID] [KEY|TEXT|PATH] — on an X display with no window
manager (Xvfb): `close` asks the window titled TITLE to close exactly as a window manager's
close button does (a WM_DELETE_WINDOW client message); `shown` exits 0 when a mapped window
titled TITLE exists; `class` prints its WM_CLASS (instance and class, one a line), what docks
group windows by; `press` gives that window the keyboard focus and presses KEY (an X keysym
name: Return, Escape; or a chord, Control_L+f) on the keyboard, through XTEST, as a person's key press arrives; `type`
types TEXT so (letters, digits and . - _ / , Shift held where the keyboard needs it); `drop`
drops the file PATH on the middle of that window as a file manager does, by the XDND protocol
(enter, position, drop, then the file's URI handed over as text/uri-list).
With PID, only windows of that process (_NET_WM_PID) count (0: none). Tests and benchmarks
use it to exercise the app's real close path and the desktop's own dialogs."""
import sys

from Xlib import X, XK, display, protocol
from Xlib.ext import xtest


# The keysym names of the characters `type` types that are not their own name.
SYMBOLS = {".": "period", "-": "minus", "_": "underscore", "/": "slash", " ": "space"}


def windows(window, title, pid, d):
    try:
        if window.get_wm_name() == title and (pid is None or owner(window, d) == pid):
            yield window
        for child in window.query_tree().children:
            yield from windows(child, title, pid, d)
    except Exception:  # a window can vanish while we walk the tree
        return


def owner(window, d):
    prop = window.get_full_property(d.intern_atom("_NET_WM_PID"), X.AnyPropertyType)
    return prop.value[0] if prop else None


def main():
    action, title = sys.argv[1], sys.argv[2]
    pid = int(sys.argv[3]) if len(sys.argv) > 3 else None
    d = display.Display()
    found = list(windows(d.screen().root, title, pid, d))
    if action == "shown":
        return 0 if any(w.get_attributes().map_state == X.IsViewable for w in found) else 1
    if action == "class":
        # GTK names the toplevel; the WebKit child windows below it carry no class.
        for window in found:
            wm_class = window.get_wm_class()
            if wm_class:
                print("\n".join(wm_class))
                return 0
        return 1
    if not found:
        print(f"no window titled {title!r}", file=sys.stderr)
        return 1
    if action == "drop":
        mapped = [w for w in found if w.get_attributes().map_state == X.IsViewable]
        if not mapped:
            print(f"the window titled {title!r} is not shown", file=sys.stderr)
            return 1
        return drop(d, mapped[0], sys.argv[4])
    if action in ("press", "type"):
        if action == "press":
            # A chord too: "Control_L+f" holds the first keys while pressing the last ("+" alone
            # is the plus key).
            *held, last = sys.argv[4].split("+") if len(sys.argv[4]) > 1 else [sys.argv[4]]
            names = [last]
        else:
            held, names = [], [SYMBOLS.get(c, c) for c in sys.argv[4]]
        keys = []
        for name in names:
            keysym = XK.string_to_keysym(name)
            keycode = d.keysym_to_keycode(keysym)
            if not keycode:
                print(f"no key named {name!r}", file=sys.stderr)
                return 2
            keys.append((keycode, d.keycode_to_keysym(keycode, 0) != keysym))
        mapped = [w for w in found if w.get_attributes().map_state == X.IsViewable]
        if not mapped:
            print(f"the window titled {title!r} is not shown", file=sys.stderr)
            return 1
        mapped[0].set_input_focus(X.RevertToParent, X.CurrentTime)
        d.sync()
        shift = d.keysym_to_keycode(XK.string_to_keysym("Shift_L"))
        modifiers = [d.keysym_to_keycode(XK.string_to_keysym(name)) for name in held]
        for modifier in modifiers:
            xtest.fake_input(d, X.KeyPress, modifier)
        for keycode, shifted in keys:
            if shifted:
                xtest.fake_input(d, X.KeyPress, shift)
            xtest.fake_input(d, X.KeyPress, keycode)
            xtest.fake_input(d, X.KeyRelease, keycode)
            if shifted:
                xtest.fake_input(d, X.KeyRelease, shift)
            d.sync()
        for modifier in reversed(modifiers):
            xtest.fake_input(d, X.KeyRelease, modifier)
        d.sync()
        return 0
    delete = d.intern_atom("WM_DELETE_WINDOW")
    protocols = d.intern_atom("WM_PROTOCOLS")
    for window in found:
        event = protocol.event.ClientMessage(window=window, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0]))
        window.send_event(event, event_mask=X.NoEventMask)
    # A round trip, not a flush: it returns once the server has carried out the request. A tool
    # that flushed and exited at once lost its request when the server, busy, found the
    # connection gone before reading it — the "window that ignores its first close" (#22).
    d.sync()
    return 0


def drop(d, target, path):
    """Plays the source side of XDND (version 5) against `target`; 0 once it finished."""
    import time
    from urllib.parse import quote

    atom = d.intern_atom
    uri_list = atom("text/uri-list")
    selection = atom("XdndSelection")
    source = d.screen().root.create_window(0, 0, 1, 1, 0, X.CopyFromParent)
    source.set_selection_owner(selection, X.CurrentTime)
    geometry = target.get_geometry()
    origin = target.translate_coords(d.screen().root, 0, 0)
    x = -origin.x + geometry.width // 2
    y = -origin.y + geometry.height // 2

    def send(kind, data):
        event = protocol.event.ClientMessage(window=target, client_type=atom(kind), data=(32, data))
        target.send_event(event, event_mask=X.NoEventMask)
        d.flush()

    def wait_for(kind, seconds=10):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            while d.pending_events():
                event = d.next_event()
                if event.type == X.SelectionRequest:
                    answer(event)
                elif event.type == X.ClientMessage and event.client_type == atom(kind):
                    return event
            time.sleep(0.02)
        return None

    def answer(request):
        # The target asks for the dropped data: the file's URI, as a file manager gives it.
        data = ("file://" + quote(path) + "\r\n").encode()
        request.requestor.change_property(request.property, uri_list, 8, data)
        notify = protocol.event.SelectionNotify(
            time=request.time, requestor=request.requestor, selection=request.selection,
            target=request.target, property=request.property)
        request.requestor.send_event(notify)
        d.flush()

    send("XdndEnter", [source.id, 5 << 24, uri_list, 0, 0])
    send("XdndPosition", [source.id, 0, (x << 16) | y, X.CurrentTime, atom("XdndActionCopy")])
    status = wait_for("XdndStatus")
    if status is None or not status.data[1][1] & 1:
        print("the window did not accept the drop", file=sys.stderr)
        send("XdndLeave", [source.id, 0, 0, 0, 0])
        return 1
    send("XdndDrop", [source.id, 0, X.CurrentTime, 0, 0])
    if wait_for("XdndFinished") is None:
        print("the window never finished the drop", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
