"""Fast SMPL-X solver: MediaPipe whole-body landmarks in, camera-frame SMPL-X out (numpy).

The ``landmarks`` estimator backend's second half (DESIGN.md, "Estimator backends" item 2) and
a source of pseudo-labels. See ``solver.py`` for the stages, ``synthetic.py`` for exact
landmarks of sampled SMPL-X bodies (tests, benchmarks).
"""

from robosmplx_core.estimate.solver.solver import LandmarkSolver, SolverConfig, SolverResult

__all__ = ["LandmarkSolver", "SolverConfig", "SolverResult"]
