#!/usr/bin/env python3
"""Lists circles between the source files of the workspace's crates.

A file depends on another when it names an item of that file's module: `use crate::a::b`,
`super::x`, `self::child::y`, or a path such as `crate::a::b::f()` in code. Declaring a child
module (`mod x;`) is not a dependency; re-exporting from it (`pub use x::Y`) is. Test modules
(`#[cfg(test)] mod tests { ... }` to the end of the file) are left out, as are tests/,
benches/ and examples/. Prints each strongly connected set of files (more than one file) and
exits 1 when there is any.

    scripts/file-cycles.py [CRATE_SRC_DIR ...]   (default: every crate of the workspace)
"""
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), ".."))
DEFAULT = ["common/src", "proto/src", "sensor/src", "sensor/analysis/src", "manager/src"]

PATH_RE = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_GROUP_RE = re.compile(r"\buse\s+(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{", re.S)


def module_of(src, path):
    rel = os.path.relpath(path, src)[:-3].split(os.sep)
    if rel[-1] in ("lib", "main", "mod"):
        rel = rel[:-1]
    return tuple(rel)


def strip(text):
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    # A trailing test module is not part of the file's dependencies.
    m = re.search(r"#\[cfg\(test\)\]\s*(pub\s+)?mod\s+\w+\s*\{", text)
    if m:
        text = text[: m.start()]
    return text


def group_items(text, start):
    """The names inside `use x::{...}` starting at the brace at `start` (nested groups flattened
    to their first segment)."""
    depth, i, buf = 0, start, ""
    while i < len(text):
        c = text[i]
        if c == "{":
            depth += 1
            if depth > 1:
                buf += c
        elif c == "}":
            depth -= 1
            if depth == 0:
                break
            buf += c
        else:
            buf += c
        i += 1
    items, depth, cur = [], 0, ""
    for c in buf:
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        if c == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += c
    items.append(cur)
    return [re.split(r"::|\s+as\s+", it.strip())[0] for it in items if it.strip()]


def analyse(src):
    files = {}
    for dp, _, fns in os.walk(src):
        for f in fns:
            if f.endswith(".rs"):
                p = os.path.join(dp, f)
                files[module_of(src, p)] = p
    # A child file of the crate's own binary (main.rs) is not part of the library.
    mods = set(files)
    edges = {m: set() for m in mods}
    for mod, path in files.items():
        is_dir_mod = os.path.basename(path) in ("mod.rs", "lib.rs", "main.rs")
        here = mod if is_dir_mod else mod  # `self` is this module either way
        parent = mod[:-1]
        text = strip(open(path, encoding="utf-8").read())
        refs = []
        for m in PATH_RE.finditer(text):
            refs.append((m.group(1), [s for s in m.group(2).split("::") if s]))
        for m in USE_GROUP_RE.finditer(text):
            base = [s for s in m.group(2).split("::") if s]
            for it in group_items(text, m.end() - 1):
                if it and it != "self":
                    refs.append((m.group(1), base + [it]))
        for kind, segs in refs:
            if kind == "crate":
                full = list(segs)
            elif kind == "self":
                full = list(here) + segs
            else:
                full = list(parent) + segs
                # `super::super::x`
                while full and False:
                    pass
            # resolve any leading `super` left inside (super::super::x)
            while "super" in full:
                i = full.index("super")
                full = full[: max(i - 1, 0)] + full[i + 1 :]
            # the longest prefix that is a file module
            target = None
            for n in range(len(full), -1, -1):
                if tuple(full[:n]) in mods:
                    target = tuple(full[:n])
                    break
            if target is None or target == mod:
                continue
            edges[mod].add(target)
    return files, edges


def sccs(edges):
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return [c for c in out if len(c) > 1]


def main():
    dirs = sys.argv[1:] or [d for d in DEFAULT if os.path.isdir(os.path.join(ROOT, d))]
    bad = 0
    for d in dirs:
        src = os.path.join(ROOT, d) if not os.path.isabs(d) else d
        files, edges = analyse(src)
        for comp in sccs(edges):
            bad += 1
            names = sorted(os.path.relpath(files[m], ROOT) for m in comp)
            print(f"circle of {len(comp)} files in {d}:")
            for m in sorted(comp):
                deps = sorted(os.path.relpath(files[t], ROOT) for t in edges[m] if t in comp)
                print(f"  {os.path.relpath(files[m], ROOT)} -> {', '.join(deps)}")
    if bad:
        print(f"{bad} circle(s)")
        return 1
    print("no circles between files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
