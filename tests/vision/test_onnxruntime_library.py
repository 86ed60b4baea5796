"""The kiosk edition leaves out ONNX Runtime's C library (build.spec): its Python binding must never load it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kits.paths import REPO

RUN_A_SESSION = """
import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper
graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
assert session.run(None, {"x": -np.ones((1, 4), np.float32)})[0].max() == 0
print("\\n".join(sorted({line.split()[-1] for line in open("/proc/self/maps") if "onnxruntime" in line})))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/maps")
def test_the_python_binding_never_loads_the_c_library_the_kiosk_leaves_out():
    import onnxruntime

    capi = Path(onnxruntime.__file__).parent / "capi"
    spec = (REPO / "build.spec").read_text()
    pattern = re.compile(re.search(r'UNUSED_IN_KIOSK = re\.compile\(r"(.+)"\)', spec).group(1))
    left_out = [p.name for p in capi.iterdir() if pattern.match(p.name)]
    assert left_out, "the pattern in build.spec no longer names ONNX Runtime's C library"
    done = subprocess.run([sys.executable, "-c", RUN_A_SESSION], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = {Path(line).name for line in done.stdout.split()}
    assert any(name.startswith("onnxruntime_pybind11_state") for name in loaded)  # the session ran in it
    assert not set(left_out) & loaded, f"the binding loaded {sorted(set(left_out) & loaded)}"
