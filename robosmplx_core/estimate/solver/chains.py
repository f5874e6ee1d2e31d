"""Closed-form inverse kinematics of two-bone chains with a hinge at the middle joint.

Used for arms (shoulder -> elbow -> wrist), legs (hip -> knee -> ankle) and fingers
(MCP -> PIP -> DIP). The middle joint is modelled as a hinge about an axis ``a`` fixed in the
proximal bone's rest frame (SMPL-X rest frames are all aligned with the model axes, so ``a``
is a vector in model coordinates), chosen perpendicular to the distal rest bone so that the
hinge rotation is also the smallest rotation between the two bone directions.

For each chain (all vectorised over a leading axis n):
    1. swing: the smallest rotation turning the proximal bone (as the parent leaves it) onto
       the observed direction ``d1``;
    2. twist about ``d1``: the angle that makes the observed distal direction ``d2`` reachable
       by a rotation about the hinge, i.e. ``(R(d1, phi) G a) . d2 = a . b2``, solved in closed
       form (a sinusoid in phi; of its two roots the one implying flexion rather than
       hyperextension of the hinge, and if both do, the smaller twist). This is how the
       forearm fixes the upper arm's twist, the shin the thigh's, a bent finger its MCP's;
    3. the distal joint: the smallest rotation turning the distal bone onto ``d2``.
The twist is unobservable when the two observed bones are (nearly) parallel, i.e. the
sinusoid's amplitude ``rho`` (about the sine of the angle between d1 and d2) vanishes: it is
scaled down to 0 as ``rho`` falls from ``BEND_FULL`` to ``BEND_ZERO`` (the prior: unobservable
twists are zero), and clamped to ``max_twist`` (anatomical range; also guards against noise on
nearly straight chains). For rest bones that are not collinear (the thumb) the twist stays
observable even without flexion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robosmplx_core.estimate.solver import so3

HYPEREXTENSION_RAD = np.radians(5.0)  # hinge angles below minus this count as hyperextension
BEND_ZERO = np.sin(np.radians(5.0))  # rho below which the twist is taken as unobservable (0)
BEND_FULL = np.sin(np.radians(15.0))  # rho above which the solved twist is fully applied


def hinge_axis(distal_bone: np.ndarray, flex_direction: np.ndarray) -> np.ndarray:
    """Hinge axes (n, 3) perpendicular to the distal rest bone (n, 3), oriented so that a
    positive rotation moves the distal bone towards ``flex_direction`` (n, 3) or (3,)."""
    return so3.normalize(so3.cross(distal_bone, flex_direction))


@dataclass(frozen=True)
class HingeChains:
    """Rest geometry of n chains (model constants, built once).

    Fields:
        proximal_bone, distal_bone: (n, 3) rest vectors proximal -> middle and middle -> end.
        distal_unit: (n, 3) the distal bone normalised.
        axis: (n, 3) unit hinge axes (``hinge_axis``); axis_dot_distal: (n,) and
            axis_cross_distal: (n, 3) their dot and cross products with ``distal_unit``.
        max_twist: (n,) largest twist of the proximal joint, radians.
    """

    proximal_bone: np.ndarray
    distal_bone: np.ndarray
    distal_unit: np.ndarray
    axis: np.ndarray
    axis_dot_distal: np.ndarray
    axis_cross_distal: np.ndarray
    max_twist: np.ndarray

    @classmethod
    def build(cls, proximal_bone: np.ndarray, distal_bone: np.ndarray, flex_direction: np.ndarray,
              max_twist: np.ndarray | float) -> "HingeChains":
        """Chains whose hinges flex the distal bone towards ``flex_direction`` (n, 3) or (3,)."""
        axis = hinge_axis(distal_bone, flex_direction)
        unit = so3.normalize(distal_bone)
        return cls(proximal_bone=proximal_bone, distal_bone=distal_bone, distal_unit=unit, axis=axis,
                   axis_dot_distal=so3.dot(axis, unit), axis_cross_distal=so3.cross(axis, unit),
                   max_twist=np.broadcast_to(np.asarray(max_twist, np.float64), (len(axis),)).copy())

    def select(self, index: np.ndarray) -> "HingeChains":
        """The chains at ``index``."""
        return HingeChains(**{k: v[index] for k, v in vars(self).items()})


def solve_hinge_chains(chains: HingeChains, parent_rotation: np.ndarray, d1: np.ndarray,
                       d2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Global rotations (n, 3, 3) of the proximal and of the middle joints of n chains.

    Args:
        parent_rotation: (n, 3, 3) global rotation of the proximal joint's parent.
        d1, d2: (n, 3) observed directions proximal -> middle and middle -> end (any length;
            a zero direction keeps the rest direction).

    Returns:
        The bones point exactly along ``d1`` and ``d2`` (where those are non-zero).
    """
    rest1 = (parent_rotation @ chains.proximal_bone[..., None])[..., 0]
    u1 = so3.normalize(d1, so3.normalize(rest1))
    swing = so3.rotation_between(rest1, u1) @ parent_rotation
    u2 = so3.normalize(d2, u1)
    c = (swing @ chains.axis[..., None])[..., 0]
    c_par = so3.dot(c, u1)[..., None] * u1
    c_perp = c - c_par
    c_side = so3.cross(u1, c_perp)
    a_cos, a_sin = so3.dot(c_perp, u2), so3.dot(c_side, u2)
    rho = np.sqrt(a_cos * a_cos + a_sin * a_sin)
    spread = np.arccos(np.clip((chains.axis_dot_distal - so3.dot(c_par, u2)) / np.maximum(rho, 1e-12), -1.0, 1.0))
    roots = so3.wrap_angle(np.arctan2(a_sin, a_cos)[..., None] + np.stack([spread, -spread], -1))  # (n, 2)
    # prefer flexion (hinge angle >= -HYPEREXTENSION) over hyperextension, then the smaller twist
    cost = np.abs(roots) + 10.0 * (_hinge_angles(chains, swing, u1, u2, roots) < -HYPEREXTENSION_RAD)
    twist = np.where(cost[..., 0] <= cost[..., 1], roots[..., 0], roots[..., 1])
    weight = np.clip((rho - BEND_ZERO) / (BEND_FULL - BEND_ZERO), 0.0, 1.0)
    twist = np.clip(twist, -chains.max_twist, chains.max_twist) * weight
    proximal = so3.rotvec_to_matrix(u1 * twist[..., None]) @ swing
    middle_dir = (proximal @ chains.distal_bone[..., None])[..., 0]
    return proximal, so3.rotation_between(middle_dir, u2) @ proximal


def _hinge_angles(chains: HingeChains, swing, u1, u2, roots) -> np.ndarray:
    """(n, 2) hinge angle (about the axis, from the rest distal bone) each twist root implies."""
    cos, sin = np.cos(roots)[..., None], np.sin(roots)[..., None]
    # u2 turned by -root about u1 (Rodrigues), then into the proximal joint's rest frame
    turned = (u2[..., None, :] * cos - so3.cross(u1, u2)[..., None, :] * sin
              + (1.0 - cos) * so3.dot(u1, u2)[..., None, None] * u1[..., None, :])
    local = turned @ swing  # rows: swing^T applied to each turned vector
    sin_t = so3.dot(local, chains.axis_cross_distal[..., None, :])  # a . (b x l) = l . (a x b)
    cos_t = so3.dot(local, chains.distal_unit[..., None, :]) - \
        chains.axis_dot_distal[..., None] * so3.dot(local, chains.axis[..., None, :])
    return np.arctan2(sin_t, cos_t)


def swing_to(parent_rotation: np.ndarray, bone: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Global rotations (n, 3, 3) of joints whose rest bone (n, 3) must point along the
    observed ``direction`` (n, 3) with no twist relative to the parent (n, 3, 3)."""
    current = (parent_rotation @ bone[..., None])[..., 0]
    target = np.where(so3.dot(direction, direction)[..., None] > 1e-18, direction, current)
    return so3.rotation_between(current, target) @ parent_rotation
