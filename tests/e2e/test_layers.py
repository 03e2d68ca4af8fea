"""The source tree's shape, as src/README states it: one folder per layer,
lowest first, and main.c at the top as the entry. A file includes headers
of its own folder and of the folders below, each named by its folder
("support/buf.h"), so the include graph between folders has no cycle and
a reader can follow the data path downwards."""
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403

SRC = os.path.join(ROOT, "src")


def layers():
    """The layer folders from src/README, lowest first."""
    names = []
    with open(os.path.join(SRC, "README")) as f:
        for ln in f:
            m = re.match(r"^([a-z]+)/\s+\S", ln)
            if m:
                names.append(m.group(1))
    check(len(names) >= 5, "src/README lists %d layer folders" % len(names))
    return names


def sources():
    """(path relative to src, text) of every .c and .h file."""
    out = []
    for p in sorted(glob.glob(os.path.join(SRC, "**", "*.[ch]"), recursive=True)):
        with open(p) as f:
            out.append((os.path.relpath(p, SRC), f.read()))
    return out


def test_every_file_in_a_layer_folder(ctx):
    names = layers()
    on_disk = sorted(d for d in os.listdir(SRC) if os.path.isdir(os.path.join(SRC, d)))
    check(on_disk == sorted(names), "folders %r, src/README lists %r" % (on_disk, names))
    stray = [p for p, _ in sources() if p != "main.c" and p.split("/")[0] not in names]
    check(not stray, "files outside the layer folders: %s" % stray)
    top = sorted(f for f in os.listdir(SRC) if os.path.isfile(os.path.join(SRC, f)) and f.endswith((".c", ".h")))
    check(top == ["main.c"], "files at the top of src: %r" % top)


def test_includes_name_their_folder_and_go_down(ctx):
    names = layers()
    rank = {n: i for i, n in enumerate(names)}
    bad, unnamed, edges = [], [], set()
    for path, text in sources():
        mine = path.split("/")[0] if "/" in path else None
        for inc in re.findall(r'^#include "([^"]+)"', text, re.M):
            parts = inc.split("/")
            if len(parts) != 2 or parts[0] not in rank or not os.path.exists(os.path.join(SRC, inc)):
                unnamed.append("%s includes \"%s\"" % (path, inc))
                continue
            if mine is None:            # main.c, the entry, may use any layer
                continue
            edges.add((mine, parts[0]))
            if rank[parts[0]] > rank[mine]:
                bad.append("%s (%s) includes %s" % (path, mine, inc))
    check(not unnamed, "includes that do not name a layer folder: %s" % "; ".join(unnamed))
    check(not bad, "includes that go up a layer: %s" % "; ".join(bad))
    # No cycle between folders (a path back to where it started).
    graph = {}
    for a, b in edges:
        if a != b:
            graph.setdefault(a, set()).add(b)

    def reach(a, seen):
        for b in graph.get(a, ()):
            if b not in seen:
                seen.add(b)
                reach(b, seen)
        return seen
    cyc = [a for a in graph if a in reach(a, set())]
    check(not cyc, "folders in an include cycle: %r" % cyc)


def test_files_short(ctx):
    """No .c file over 500 lines but at most three engine files, none over 700."""
    long = [(text.count("\n"), path) for path, text in sources() if path.endswith(".c") and
            text.count("\n") > 500]
    check(len(long) <= 3 and all(n <= 700 for n, _ in long), "files over 500 lines: %s" % sorted(long))


if __name__ == "__main__":
    run([v for k, v in list(globals().items()) if k.startswith("test_") and callable(v)])
