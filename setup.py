"""pip install of robosmplx's Python packages and console scripts.

The dependency pins live in requirements.txt (one list for pip users and `make setup`):
"# [core]" is install_requires, every other "# [name]" section is an extra, e.g.
``pip install .[ros,dev]``. ROS 2 users build the same tree with colcon (package.xml).
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent


def read_requirement_sections(path: Path) -> dict[str, list[str]]:
    """Split requirements.txt into {section: [requirement, ...]} by its '# [name]' lines."""
    sections: dict[str, list[str]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("# [") and line.endswith("]"):
            current = line[3:-1]
            sections[current] = []
        elif line and not line.startswith("#"):
            if current is None:
                raise ValueError(f"{path}: requirement {line!r} appears before any '# [section]' line")
            sections[current].append(line)
    return sections


REQS = read_requirement_sections(HERE / "requirements.txt")

setup(
    name="robosmplx",
    version="0.1.0",
    description="Real-time whole-body SMPL-X motion capture from ordinary cameras, for robots",
    long_description=(HERE / "README.md").read_text() if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["robosmplx_core*", "robosmplx_ros*", "training*"]),
    package_data={"": ["*.yaml"]},
    install_requires=REQS["core"],
    extras_require={name: reqs for name, reqs in REQS.items() if name != "core"},
    entry_points={
        "console_scripts": [
            "robosmplx = robosmplx_core.cli:main",
            "robosmplx-node = robosmplx_ros.node:main",
            "robosmplx-bag = robosmplx_ros.bag:main",
        ]
    },
)
