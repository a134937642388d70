"""Network files: user layer modules (listed in the file or --layers), entry points, --network NAME."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import symderiv as sd
from symderiv.graph.toml_loader import network_from_toml_text
from symderiv.graph.user_layers import load_layer_module

ROOT = Path(__file__).resolve().parent.parent


def layer_module(path: Path, op: str, body: str = "x[i, u]**3") -> Path:
    path.write_text(textwrap.dedent(f'''
        import sympy as sp
        import symderiv as sd

        class UserLayer(sd.Layer):
            op = "{op}"
            signature = "x[m, n] -> y[m, n]"

            def forward(self, f, x):
                return lambda i, u: {body}
    '''))
    return path


def network_file(path: Path, op: str, layers: list[str] | None = None) -> Path:
    listed = "layers = [" + ", ".join(f'"{m}"' for m in layers) + "]\n" if layers is not None else ""
    path.write_text(listed + textwrap.dedent(f'''
        name = "user"
        sizes = ["n_x", "n_y"]
        [inputs]
        x = "m, n_x"
        y = "m, n_y"
        [params]
        W = "n_y, n_x"
        c = "n_y"
        [[nodes]]
        name = "z"
        op = "linear"
        args = {{ x = "x", theta = "W", b = "c" }}
        [[nodes]]
        name = "a"
        op = "{op}"
        args = {{ x = "z" }}
        [[nodes]]
        name = "loss"
        op = "mse"
        args = {{ yhat = "a", y = "y" }}
        [[losses]]
        node = "loss"
        weight = 1e-3
    '''))
    return path


def run_cli(*argv, cwd=None, env=None):
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *(env or [])])}
    return subprocess.run([sys.executable, "-m", "symderiv", *argv], capture_output=True, text=True, cwd=cwd,
                          env=environment, timeout=600, check=False)


def test_a_network_file_loads_its_layer_modules_relative_to_itself(tmp_path, monkeypatch):
    (tmp_path / "nets").mkdir()
    layer_module(tmp_path / "nets" / "my_layers.py", "user_cube_a")
    spec = network_file(tmp_path / "nets" / "net.toml", "user_cube_a", ["my_layers.py"])
    monkeypatch.chdir(tmp_path)  # not the file's folder
    net = sd.Network.from_toml(spec)
    rng = np.random.default_rng(0)
    arrays = {"x": rng.normal(size=(3, 2)), "y": rng.normal(size=(3, 4)), "W": rng.normal(size=(4, 2)),
              "c": rng.normal(size=4)}
    t = {n: torch.tensor(v, requires_grad=True) for n, v in arrays.items()}
    a = (t["x"] @ t["W"].T + t["c"]) ** 3
    (1e-3 * 0.5 * ((a - t["y"]) ** 2).sum() / 3).backward()
    for name in ("W", "c"):
        np.testing.assert_allclose(net.gradient(name).evaluate(**arrays), t[name].grad.numpy(), atol=1e-12)


def test_layer_modules_run_only_when_allowed(tmp_path):
    marker = tmp_path / "ran"
    (tmp_path / "evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    spec = network_file(tmp_path / "net.toml", "linear", ["evil.py"])
    with pytest.raises(sd.NetworkError, match="field 'layers': this network loads Python layer modules"):
        sd.Network.from_toml(spec, load_layers=False)
    assert not marker.exists()


@pytest.mark.parametrize("content, words", [
    (None, "no such file"),
    ("raise RuntimeError('boom')\n", "failed to load: RuntimeError: boom"),
    ("def broken(:\n", "failed to load: SyntaxError"),
    ("x = 1\n", "defines no Layer subclass"),
])
def test_bad_layer_modules_are_explained(tmp_path, content, words):
    if content is not None:
        (tmp_path / "mod.py").write_text(content)
    spec = network_file(tmp_path / "net.toml", "linear", ["mod.py"])
    with pytest.raises(sd.NetworkError) as caught:
        sd.Network.from_toml(spec)
    message = str(caught.value)
    assert message.startswith(f"{spec}: layers[0]: layer module ") and "mod.py" in message and words in message


def test_a_layer_module_cannot_replace_a_shipped_layer(tmp_path):
    layer_module(tmp_path / "mod.py", "linear")
    with pytest.raises(ValueError, match="mod.py.*'linear' is already registered"):
        load_layer_module(tmp_path / "mod.py", where="--layers")


def test_a_module_is_run_once(tmp_path):
    path = layer_module(tmp_path / "once.py", "user_cube_once")
    assert load_layer_module(path) is load_layer_module(path)


def test_cli_layers_and_network_arguments(tmp_path):
    layer_module(tmp_path / "cube.py", "user_cube_cli")
    spec = network_file(tmp_path / "net.toml", "user_cube_cli")
    result = run_cli("grad", str(spec), "--layers", str(tmp_path / "cube.py"), "--param", "c")
    assert result.returncode == 0, result.stderr
    assert "d L / d c[u]" in result.stdout
    derived = run_cli("derive", "user_cube_cli", "--layers", str(tmp_path / "cube.py"), "--latex")
    assert derived.returncode == 0 and derived.stdout.rstrip().endswith("x_{iu}^{2}"), derived.stdout
    missing = run_cli("grad", str(spec))
    assert missing.returncode == 2 and "unknown layer 'user_cube_cli'" in missing.stderr
    assert "Traceback" not in missing.stderr


@pytest.mark.parametrize("argv, words", [
    (["grad", "--network", "nope"], "no shipped network 'nope'; shipped networks: "),
    (["grad", "--network", "../networks/multitask"], "no shipped network '../networks/multitask'"),
    (["grad", "x.toml", "--network", "multitask"], "not both"),
    (["grad", "--layers", "missing.py"], "--layers: layer module 'missing.py': no such file"),
    (["derive", "--layers", "missing.py", "relu"], "--layers: layer module 'missing.py': no such file"),
    (["check", "answers.md", "--network", "nope"], "no shipped network 'nope'"),
])
def test_cli_network_errors_exit_2(tmp_path, argv, words):
    (tmp_path / "answers.md").write_text("# relu: da/dz\n$1$\n")
    result = run_cli(*argv, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr


def test_cli_network_names_a_shipped_network():
    result = run_cli("grad", "--network", "multitask", "--param", "b_2a")
    assert result.returncode == 0 and "d L / d b_2a[u]" in result.stdout


def test_an_installed_package_registers_a_layer_through_an_entry_point(tmp_path):
    site = tmp_path / "site"
    (site / "userpkg").mkdir(parents=True)
    layer_module(site / "userpkg" / "__init__.py", "user_cube_ep", body="2*x[i, u]")
    info = site / "userpkg-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: userpkg\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[symderiv.layers]\nuser_cube_ep = userpkg:UserLayer\n")
    spec = network_file(tmp_path / "net.toml", "user_cube_ep")
    result = run_cli("grad", str(spec), "--param", "c", env=[str(site)])
    assert result.returncode == 0, result.stderr
    assert "d L / d c[u]" in result.stdout
    derived = run_cli("derive", "user_cube_ep", env=[str(site)])
    assert derived.returncode == 0 and "d y[i, u] / d x[j, v]" in derived.stdout, derived.stderr
    text = spec.read_text().replace("user_cube_ep", "user_cube_none")
    with pytest.raises(sd.NetworkError, match="unknown layer 'user_cube_none'"):
        network_from_toml_text(text, source="net.toml")
