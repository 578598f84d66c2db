#!/usr/bin/python3
"""prune-target.py DIR — keeps the shared build directory (CARGO_TARGET_DIR) from filling the
disk. Every clone that builds into it (CI clones afresh each time) leaves its own copies of the
project's test binaries and incremental caches under new hashes: 72 GiB of them filled this
machine's disk once and a link failed with a bus error. Only the project's own artifacts are
touched — the newest four of each name are kept (a name can have a few current variants:
the build, the test build, clippy's check);
third-party crates stay, so nothing needs building again but the project."""
import os
import re
import shutil
import sys

OURS = ("batchwatch", "trillet")
# deps/: name-<16 hex>[.ext]; incremental/: name-<13 base-36>.
HASHED = re.compile(r"^(?P<name>.+)-(?P<hash>[0-9a-f]{16}|[0-9a-z]{13})(?P<ext>\..*)?$")
KEPT = 4


def ours(name, ext, folder):
    plain = name[3:] if name.startswith("lib") else name
    if plain.replace("-", "_").startswith(OURS):
        return True
    # Test executables (no extension, no "lib") in deps/ are all the project's own.
    return folder == "deps" and ext == "" and not name.startswith("lib")


def prune(folder, path):
    groups = {}
    for entry in os.scandir(path):
        match = HASHED.match(entry.name)
        if not match or not ours(match["name"], match["ext"] or "", folder):
            continue
        groups.setdefault((match["name"], match["ext"]), []).append(entry)
    freed = 0
    for entries in groups.values():
        entries.sort(key=lambda e: e.stat(follow_symlinks=False).st_mtime, reverse=True)
        for stale in entries[KEPT:]:
            if stale.is_dir(follow_symlinks=False):
                freed += sum(
                    os.path.getsize(os.path.join(root, f))
                    for root, _, files in os.walk(stale.path)
                    for f in files
                )
                shutil.rmtree(stale.path, ignore_errors=True)
            else:
                freed += stale.stat(follow_symlinks=False).st_size
                os.remove(stale.path)
    return freed


def main():
    target = sys.argv[1]
    freed = 0
    for profile in ("debug", "release"):
        for folder in ("deps", "incremental"):
            path = os.path.join(target, profile, folder)
            if os.path.isdir(path):
                freed += prune(folder, path)
    if freed:
        print(f"prune-target: {freed / 2**30:.1f} GiB of stale project builds removed from {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
