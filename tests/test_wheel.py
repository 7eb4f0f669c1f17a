"""The installed wheel finds its templates: prompts/ travels inside the package."""

import subprocess
import sys
import zipfile

from persona_studio.engine.request import GENERATION_TYPES
from persona_studio.engine.templates import STAGES


def test_wheel_ships_prompts_and_resources_inside_the_package(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "-w", str(tmp_path), "."],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("persona_studio-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for stage in STAGES:
        for gtype in GENERATION_TYPES:
            assert f"persona_studio/prompts/{stage}/{gtype}.txt" in names
    assert any(n.startswith("persona_studio/resources/") for n in names)
    assert not any(n.startswith("tests/") for n in names)

    # Unpacked as an installed package, paths.py finds them inside the package.
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = subprocess.run(
        [sys.executable, "-c", "from persona_studio import paths; "
         "print(paths.shipped_prompts_dir())"],
        capture_output=True, text=True, cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == str(site / "persona_studio" / "prompts")
