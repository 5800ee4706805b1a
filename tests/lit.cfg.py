# lit configuration of the IR-level tests (run through build/tests/lit.site.cfg.py).
import os
import sys

import lit.formats

config.name = "SL"
config.test_format = lit.formats.ShTest(True)
config.suffixes = [".mlir", ".cu", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.sl_obj_root, "tests")
config.excludes = ["unit", "golden", "Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py.in"]
config.environment["PATH"] = os.pathsep.join(
    [config.sl_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", "")])
config.substitutions.append(("%models", os.path.join(config.sl_src_root, "models")))
config.substitutions.append(("%kernels", os.path.join(config.sl_src_root, "runtime", "kernels")))
config.substitutions.append(("%golden", os.path.join(config.sl_src_root, "tests", "golden")))
config.substitutions.append(("%python", sys.executable))
config.substitutions.append(("%bin", config.sl_tools_dir))

# GPU tests run only where a GPU answers; elsewhere lit reports them as unsupported (skipped).
import shutil
import subprocess

if shutil.which("nvidia-smi") and subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0:
    config.available_features.add("cuda-gpu")
config.substitutions.append(("%root", config.sl_src_root))

# A sanitized build (SL_SANITIZE=address,undefined, build-asan/; docs/testing.md): features
# `asan` / `ubsan` for tests that must know, and SL_SANITIZED=1 in the tests' environment so test
# scripts can widen timing bounds (instrumented code runs 2-3x slower). Never a reason to skip a
# correctness check.
sl_sanitize = [s for s in getattr(config, "sl_sanitize", "").split(",") if s]
if "address" in sl_sanitize:
    config.available_features.add("asan")
if "undefined" in sl_sanitize:
    config.available_features.add("ubsan")
if sl_sanitize:
    config.environment["SL_SANITIZED"] = "1"
