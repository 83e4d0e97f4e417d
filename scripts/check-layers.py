#!/usr/bin/env python3
"""Holds src/ to the layers of scripts/layers.txt.

    python3 scripts/check-layers.py BUILD_DIR [--src DIR] [--layers FILE]

Reads every #include "..." of src/ and, with nm, the undefined symbols of
every object of the library in BUILD_DIR (CMake's dbconn_objects target),
maps each to the file that defines it, and fails on:
  - a use that goes up: a file of one layer using a file of a higher one;
  - a use across: a file using a sibling entry of its own layer;
  - a circle: files (a .c with its .h counted as one) that use each other
    round in a loop, inside a layer too.
Exits 0 when the tree is clean, 1 with one line per finding otherwise.
"""
import argparse
import fnmatch
import os
import re
import subprocess
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def read_layers(path):
    """[(rank, entry)] in file order; an entry ends in '/' for a folder."""
    layers = []
    rank = 0
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].split()
            if not line:
                continue
            for entry in line:
                layers.append((rank, entry))
            rank += 1
    return layers


def entry_of(rel, layers):
    """The most specific entry naming src-relative path `rel`."""
    best = None
    for rank, entry in layers:
        if entry.endswith('/'):
            match = rel.startswith(entry)
            weight = len(entry)
        else:
            match = fnmatch.fnmatchcase(rel, entry)
            weight = 10000  # a file beats any folder
        if match and (best is None or weight > best[0]):
            best = (weight, rank, entry)
    if best is None:
        return None
    return best[1], best[2]


def unit_of(rel):
    """A .c and its .h are one unit (a module)."""
    return os.path.splitext(rel)[0]


def sources(src):
    out = []
    for root, _, files in os.walk(src):
        for name in files:
            if name.endswith(('.c', '.h')):
                out.append(os.path.relpath(os.path.join(root, name), src))
    return sorted(out)


def include_edges(src, files):
    edges = []
    for rel in files:
        with open(os.path.join(src, rel), errors='replace') as f:
            text = f.read()
        for inc in INCLUDE.findall(text):
            if os.path.exists(os.path.join(src, inc)):
                edges.append((rel, inc, '#include "%s"' % inc))
            elif inc != 'dbconn.h' and not os.path.exists(
                    os.path.join(os.path.dirname(os.path.join(src, rel)),
                                 inc)):
                pass  # a system or build header: not ours
    return edges


def objects(build, src):
    top = None
    for root, dirs, _ in os.walk(build):
        if os.path.basename(root) == 'dbconn_objects.dir':
            top = root
            break
    if not top:
        sys.exit('check-layers: no dbconn_objects.dir under %s: build the '
                 'library first' % build)
    objs = {}
    for root, _, files in os.walk(top):
        for name in files:
            if name.endswith('.c.o'):
                path = os.path.join(root, name)
                rel = os.path.relpath(path, top)
                if not rel.startswith('src' + os.sep):
                    continue
                rel = rel[len('src' + os.sep):-2]
                # an object of a source that no longer exists is stale
                if os.path.exists(os.path.join(src, rel)):
                    objs[rel] = path
    return objs


def nm(path, *flags):
    out = subprocess.run(['nm', '-P'] + list(flags) + [path], check=True,
                         capture_output=True, text=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            syms.append((parts[0], parts[1]))
    return syms


def symbol_edges(objs):
    defined = {}
    for rel, path in objs.items():
        for name, kind in nm(path, '--defined-only'):
            if kind in 'TDBRCGSV':  # global definitions
                defined[name] = rel
    edges = []
    for rel, path in objs.items():
        for name, _ in nm(path, '--undefined-only'):
            owner = defined.get(name)
            if owner and owner != rel:
                edges.append((rel, owner, name))
    return edges


def circles(edges):
    """Strongly connected components (Tarjan) of more than one unit."""
    graph = {}
    for a, b, _ in edges:
        ua, ub = unit_of(a), unit_of(b)
        if ua != ub:
            graph.setdefault(ua, set()).add(ub)
            graph.setdefault(ub, set())
    index, low, stack, on, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
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
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument('build')
    ap.add_argument('--src', default=os.path.join(here, '..', 'src'))
    ap.add_argument('--layers', default=os.path.join(here, 'layers.txt'))
    args = ap.parse_args()
    layers = read_layers(args.layers)
    files = sources(args.src)
    bad = []
    for rel in files:
        if entry_of(rel, layers) is None:
            bad.append('%s: in no layer of %s' % (rel, args.layers))
    edges = include_edges(args.src, files)
    edges += symbol_edges(objects(args.build, args.src))
    for a, b, what in edges:
        ea, eb = entry_of(a, layers), entry_of(b, layers)
        if not ea or not eb or ea == eb:
            continue
        if eb[0] > ea[0]:
            bad.append('%s (%s) uses %s (%s), a layer above it: %s'
                       % (a, ea[1], b, eb[1], what))
        elif eb[0] == ea[0]:
            bad.append('%s (%s) uses %s (%s), a sibling it may not use: %s'
                       % (a, ea[1], b, eb[1], what))
    for comp in circles(edges):
        bad.append('circle of files that use each other: %s'
                   % ' <-> '.join(comp))
    for line in sorted(set(bad)):
        print('check-layers: ' + line)
    if bad:
        print('check-layers: FAILED (%d finding%s)'
              % (len(set(bad)), '' if len(set(bad)) == 1 else 's'))
        return 1
    print('check-layers: %d files, %d uses, every one down or within its '
          'layer, no circle' % (len(files), len(edges)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
