#!/usr/bin/env python3
"""Checks the runtime's layering (runtime/CMakeLists.txt): no runtime library links a library of a
higher layer or forms a cycle, and no source file under runtime/ includes a header of a library its
own does not link (directly or through others).

usage: check_layers.py <build>/runtime-layers.tsv <source root>
The graph file is written by CMake at configure time: target, layer, directories, links."""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*"runtime/([A-Za-z_]+)/', re.M)


def main():
    graph_path, root = sys.argv[1], sys.argv[2]
    layer, dirs, links = {}, {}, {}
    for line in open(graph_path):
        target, rank, directories, deps = (line.rstrip("\n").split("\t") + [""] * 4)[:4]
        layer[target] = int(rank)
        dirs[target] = [d for d in directories.split(";") if d]
        links[target] = [d for d in deps.split(";") if d]
    errors = []
    for target, deps in links.items():
        for dep in deps:
            if dep in layer and layer[dep] > layer[target]:
                errors.append(f"{target} (layer {layer[target]}) links {dep} "
                              f"(layer {layer[dep]}): an upward edge")

    def closure(target, seen=None, path=()):
        seen = set() if seen is None else seen
        for dep in links.get(target, []):
            if dep not in layer:
                continue
            if dep in path or dep == target:
                errors.append("a cycle: " + " -> ".join(path + (target, dep)))
                continue
            if dep not in seen:
                seen.add(dep)
                closure(dep, seen, path + (target,))
        return seen

    reach = {target: closure(target) | {target} for target in layer}
    owner = {d: target for target, ds in dirs.items() for d in ds}
    runtime = os.path.join(root, "runtime")
    for directory in sorted(os.listdir(runtime)):
        path = os.path.join(runtime, directory)
        if not os.path.isdir(path) or directory not in owner:
            continue
        for dirpath, _, files in os.walk(path):
            for name in sorted(files):
                if not name.endswith((".h", ".cpp")):
                    continue
                source = os.path.join(dirpath, name)
                for included in INCLUDE.findall(open(source, encoding="utf-8").read()):
                    rel = os.path.relpath(source, root)
                    if included not in owner:
                        errors.append(f"{rel} includes runtime/{included}/, which belongs to no "
                                      "runtime library (runtime/CMakeLists.txt)")
                    elif owner[included] not in reach[owner[directory]]:
                        errors.append(f"{rel} ({owner[directory]}, layer {layer[owner[directory]]}) "
                                      f"includes runtime/{included}/ ({owner[included]}, layer "
                                      f"{layer[owner[included]]}), which it does not link")
    for error in sorted(set(errors)):
        print("check_layers: " + error)
    print(f"check_layers: {len(layer)} libraries, {len(set(errors))} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
