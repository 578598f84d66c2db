#!/usr/bin/python3
"""a11y-tree.py APP — prints the accessibility tree of the application named APP as a screen
reader reads it over AT-SPI (what Orca reads): one line per object, indented by depth —
its role, its name in quotes, and for a progress bar its value ("value=67.0") and the
value's text as announced ("text=…"). Exits 1 when no such application is on the
accessibility bus. Used by the end-to-end tests to check the window's real screen-reader path."""
import sys

import pyatspi


def walk(node, depth, out, budget):
    if budget[0] <= 0 or node is None:
        return
    budget[0] -= 1
    role = node.getRoleName()
    line = f"{'  ' * depth}{role} {node.name!r}"
    if role == "progress bar":
        try:
            value = node.queryValue()
            line += f" value={value.currentValue}"
            text = getattr(value, "text", None)
            if text:
                line += f" text={text!r}"
        except NotImplementedError:
            line += " value=none"
        # The value's words, where the toolkit puts them (aria-valuetext).
        for attribute in node.getAttributes() or []:
            if attribute.startswith("valuetext:"):
                line += f" text={attribute.split(':', 1)[1]!r}"
    out.append(line)
    for child in node:
        walk(child, depth + 1, out, budget)


def main():
    wanted = sys.argv[1]
    desktop = pyatspi.Registry.getDesktop(0)
    for app in desktop:
        if app is not None and app.name == wanted:
            out = []
            walk(app, 0, out, [20000])  # bounded: a runaway tree cannot hang the test
            print("\n".join(out))
            return 0
    print(f"no application named {wanted!r}; on the bus: {[a.name for a in desktop if a is not None]}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
