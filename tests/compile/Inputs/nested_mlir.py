"""Writes .mlir text nested `depth` levels deep, for the nesting tests of slc compile/slc-opt.

usage: nested_mlir.py KIND DEPTH OUT
  types     a function argument of `depth` nested tuple types
  attr      a function attribute of `depth` nested arrays
  quoted    `depth` brackets inside a // comment and a string attribute (nesting 1)
"""
import sys

kind, depth, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if kind == "types":
    text = "func.func @f(%x: " + "tuple<" * depth + "i32" + ">" * depth + ") {\n  return\n}\n"
elif kind == "attr":
    text = "func.func @f() attributes {a = " + "[" * depth + "]" * depth + "} {\n  return\n}\n"
elif kind == "quoted":
    text = ("// " + "(" * depth + "\n" + 'func.func @f() attributes {a = "' + "[{<" * depth +
            '"} {\n  return\n}\n')
else:
    sys.exit("unknown kind " + kind)
with open(out, "w") as f:
    f.write(text)
