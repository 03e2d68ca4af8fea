"""The source tree's shape, as src/README states it: every module belongs to
one layer, and a file includes only headers of its own layer and those
below, so the include graph has no cycle between layers and a reader can
follow the data path downwards."""
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403

SRC = os.path.join(ROOT, "src")


def layers():
    """{module: (layer index, layer name)} from src/README."""
    out = {}
    names = []
    with open(os.path.join(SRC, "README")) as f:
        for ln in f:
            m = re.match(r"^([a-z]+):\s+(.*)$", ln)
            if not m:
                continue
            names.append(m.group(1))
            words = re.sub(r"\([^)]*\)", " ", m.group(2)).split()
            for w in words:
                check(w not in out, "module %s listed twice in src/README" % w)
                out[w] = (len(names) - 1, m.group(1))
    check(len(names) >= 5, "src/README lists %d layers" % len(names))
    return out


def modules():
    return sorted({os.path.basename(p)[:-2] for p in glob.glob(os.path.join(SRC, "*.[ch]"))})


def test_every_module_has_a_layer(ctx):
    lay = layers()
    missing = [m for m in modules() if m not in lay]
    check(not missing, "modules not in src/README: %s" % missing)
    gone = [m for m in lay if m not in modules()]
    check(not gone, "src/README lists modules that do not exist: %s" % gone)


def test_includes_go_down(ctx):
    lay = layers()
    bad = []
    for path in sorted(glob.glob(os.path.join(SRC, "*.[ch]"))):
        mod = os.path.basename(path)[:-2]
        with open(path) as f:
            text = f.read()
        for inc in re.findall(r'^#include "([^"]+)\.h"', text, re.M):
            if inc in lay and mod in lay and lay[inc][0] > lay[mod][0]:
                bad.append("%s (%s) includes %s.h (%s)" % (os.path.basename(path), lay[mod][1], inc,
                                                         lay[inc][1]))
    check(not bad, "includes that go up a layer: %s" % "; ".join(bad))


def test_files_short(ctx):
    """No .c file over 500 lines but at most three engine files, none over 700."""
    long = []
    for path in glob.glob(os.path.join(SRC, "*.c")):
        with open(path) as f:
            n = sum(1 for _ in f)
        if n > 500:
            long.append((n, os.path.basename(path)))
    check(len(long) <= 3 and all(n <= 700 for n, _ in long), "files over 500 lines: %s" % sorted(long))


if __name__ == "__main__":
    run([v for k, v in list(globals().items()) if k.startswith("test_") and callable(v)])
