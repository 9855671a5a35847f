"""What a fresh interpreter imports: `fcnn --help` loads no heavy library, and `import fcnn_cli`
loads neither scikit-learn nor JAX until FCNNClassifier is asked for. Each check needs a new
process (this one has imported everything already)."""

from __future__ import annotations

import subprocess
import sys


def test_help_imports_no_heavy_library():
    code = (
        "import sys; from fcnn_cli import cli\n"
        "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('jax', 'sklearn', 'matplotlib', 'hydra', 'numpy') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_import_is_light():
    code = ("import sys, fcnn_cli\n"
            "assert not [m for m in ('sklearn', 'jax', 'numpy', 'matplotlib') if m in sys.modules]\n"
            "from fcnn_cli import FCNNClassifier\n"
            "assert 'sklearn' in sys.modules and 'jax' not in sys.modules\n")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
