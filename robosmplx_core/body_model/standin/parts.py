"""Body parts of the stand-in (everything but the head): torso, arms with palms, fingers,
legs, feet and eyeballs, each one closed sweep with its skinning weights.

Units: metres, SMPL-X frame (y up, +z front, person's left = +x). Left parts are described
once; right parts mirror them. Every key station that sits at a joint is placed exactly at
that joint of ``skeleton.rest_joints()``.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from robosmplx_core.body_model.standin.mesh import (
    Primitive,
    Stations,
    arc_length,
    chain_weights,
    make_stations,
    refine,
    sweep_surface,
    vertex_path_positions,
)
from robosmplx_core.body_model.standin.skeleton import (
    EYE_RADIUS_M,
    FINGERS,
    JOINT_NAMES,
    NUM_JOINTS,
    SOLE_Y_M,
    J,
    finger_chain,
    mirror_x,
    rest_joints,
)

X, Y, Z = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)


class Part(IntEnum):
    """Part id of every vertex (used by blend shapes and landmark selection)."""

    TORSO = 0
    HEAD = 1
    LEFT_EYE = 2
    RIGHT_EYE = 3
    LEFT_ARM = 4
    RIGHT_ARM = 5
    LEFT_FINGERS = 6
    RIGHT_FINGERS = 7
    LEFT_LEG = 8
    RIGHT_LEG = 9
    LEFT_FOOT = 10
    RIGHT_FOOT = 11


def build_sweep(
    keys: Stations,
    *,
    part: Part,
    chain: list[int],
    spacing_m: float | np.ndarray,
    n: int,
    ref_u: tuple[float, float, float],
    ref_v: tuple[float, float, float],
    cap_m: tuple[float, float],
    blend_m: float,
    cap_rings: int = 3,
    front_density: float = 0.0,
    normal: tuple[float, float, float] | None = None,
) -> Primitive:
    """Refine ``keys``, sweep them and skin the result along ``chain``.

    ``chain[0]`` is the parent joint of the first joint placed on a key; ``chain[1:]`` are
    joints placed on keys (``keys.joint``), in path order. See ``mesh.chain_weights`` and,
    for the other arguments, ``mesh.sweep_surface``.
    """
    st = refine(keys, spacing_m)
    verts, faces, ring_c, rings, centres = sweep_surface(
        st, n=n, ref_u=ref_u, ref_v=ref_v, cap_m=cap_m, cap_rings=cap_rings,
        front_density=front_density, normal=normal)
    s_vert = vertex_path_positions(centres, n, cap_m, cap_rings)
    s_station = arc_length(st.centres)
    chain_s = [float(s_station[int(np.flatnonzero(st.joint == j)[0])]) for j in chain[1:]]
    weights = chain_weights(s_vert, chain, chain_s, blend_m)
    return Primitive(verts, faces, ring_c, weights, int(part), rings, centres, len(verts) - 1)


def mirror_joint_index() -> np.ndarray:
    """``(55,)`` index of each joint's left/right counterpart (midline joints: themselves)."""
    names = list(JOINT_NAMES)
    swap = {"left_": "right_", "right_": "left_"}
    out = np.arange(NUM_JOINTS)
    for j, name in enumerate(names):
        for a, b in swap.items():
            if name.startswith(a):
                out[j] = names.index(b + name[len(a):])
    return out


def mirror_primitive(prim: Primitive, part: Part) -> Primitive:
    """The right-side copy of a left-side primitive: x -> -x, winding reversed (so faces
    still point outward), left/right joint weights swapped; vertex order unchanged."""
    return Primitive(
        vertices=mirror_x(prim.vertices),
        faces=prim.faces[:, ::-1].copy(),
        ring_centres=mirror_x(prim.ring_centres),
        weights=prim.weights[:, mirror_joint_index()],
        part=int(part),
        rings=prim.rings,
        station_centres=mirror_x(prim.station_centres),
        tip=prim.tip,
    )


def torso() -> Primitive:
    """Pelvis to the top of the neck (ends inside the head): ``Part.TORSO``."""
    # y, half-width, front depth, back depth, centre z, super-ellipse exponent
    profile = [
        (-0.50, 0.115, 0.075, 0.085, 0.0, 2.2), (-0.46, 0.155, 0.09, 0.11, 0.0, 2.4),
        (-0.35, 0.165, 0.10, 0.105, 0.0, 2.4), (-0.29, 0.152, 0.095, 0.095, -0.005, 2.4),
        (-0.24, 0.142, 0.095, 0.085, -0.01, 2.4), (-0.17, 0.146, 0.10, 0.085, -0.008, 2.4),
        (-0.11, 0.152, 0.104, 0.088, -0.005, 2.4), (-0.05, 0.158, 0.108, 0.092, 0.0, 2.4),
        (0.02, 0.165, 0.108, 0.095, 0.0, 2.4), (0.08, 0.168, 0.095, 0.090, -0.005, 2.4),
        (0.11, 0.150, 0.075, 0.078, -0.01, 2.3), (0.128, 0.105, 0.062, 0.066, -0.013, 2.1),
        (0.14, 0.062, 0.055, 0.058, -0.015, 2.0), (0.18, 0.054, 0.050, 0.055, -0.015, 2.0),
        (0.23, 0.052, 0.050, 0.055, -0.005, 2.0), (0.26, 0.050, 0.050, 0.050, -0.005, 2.0),
    ]
    joints = {2: J["pelvis"], 4: J["spine1"], 6: J["spine2"], 7: J["spine3"], 12: J["neck"],
              14: J["head"]}
    rows = [((0.0, y, cz), (w, w, f, b), e) for y, w, f, b, cz, e in profile]
    keys = make_stations(rows, joints)
    _check_on_joints(keys)
    chain = [J[n] for n in ("pelvis", "spine1", "spine2", "spine3", "neck", "head")]
    return build_sweep(keys, part=Part.TORSO, chain=chain, spacing_m=0.02, n=32, ref_u=X,
                       ref_v=Z, cap_m=(0.02, 0.02), blend_m=0.04, normal=Y)


def _check_on_joints(keys: Stations) -> None:
    """Raise if a key station marked with a joint is not exactly at that joint."""
    skel = rest_joints()
    for centre, j in zip(keys.centres, keys.joint):
        if j >= 0 and not np.allclose(centre, skel[j], atol=1e-9):
            raise ValueError(f"stand-in key station for joint {j} at {centre}, joint at {skel[j]}")


def arm(side: str) -> Primitive:
    """Collar to knuckles (upper arm, forearm, palm) of one side: ``Part.*_ARM``."""
    rows = [
        ((0.045, 0.09, -0.015), (0.045, 0.045), 2.0),
        ((0.07, 0.09, -0.015), (0.048, 0.050), 2.0),
        ((0.125, 0.088, -0.018), (0.052, 0.056), 2.0),
        ((0.18, 0.085, -0.02), (0.050, 0.052), 2.0),
        ((0.25, 0.085, -0.022), (0.046, 0.046), 2.0),
        ((0.33, 0.085, -0.023), (0.044, 0.043), 2.0),
        ((0.44, 0.085, -0.025), (0.036, 0.036), 2.0),
        ((0.50, 0.085, -0.025), (0.040, 0.037), 2.0),
        ((0.60, 0.085, -0.025), (0.034, 0.029), 2.0),
        ((0.70, 0.085, -0.025), (0.031, 0.020), 2.2),
        ((0.725, 0.085, -0.025), (0.038, 0.017), 2.6),
        ((0.76, 0.086, -0.027), (0.041, 0.016), 3.0),
        ((0.783, 0.086, -0.027), (0.040, 0.014), 3.0),
    ]
    keys = make_stations(rows, {1: J["left_collar"], 3: J["left_shoulder"],
                                6: J["left_elbow"], 9: J["left_wrist"]})
    _check_on_joints(keys)
    chain = [J["spine3"]] + [J[f"left_{n}"] for n in ("collar", "shoulder", "elbow", "wrist")]
    left = build_sweep(keys, part=Part.LEFT_ARM, chain=chain, spacing_m=0.022, n=16, ref_u=Z,
                       ref_v=Y, cap_m=(0.015, 0.012), blend_m=0.04)
    return left if side == "left" else mirror_primitive(left, Part.RIGHT_ARM)


def finger(side: str, name: str) -> Primitive:
    """One finger tube from inside the palm to the fingertip (the tube's end pole)."""
    if side == "right":
        return mirror_primitive(finger("left", name), Part.RIGHT_FINGERS)
    pts, dirs, r0 = finger_chain("left", name)
    start = pts[0] - dirs[0] * 0.014
    r_tip = 0.78 * r0
    end = pts[3] - dirs[2] * r_tip
    mid = 0.5 * (pts[0] + pts[1])
    scale = [1.0, 1.0, 0.96, 0.92, 0.86, 0.80]
    centres = [start, pts[0], mid, pts[1], pts[2], end]
    rows = [(c, (r0 * s, 0.9 * r0 * s), 2.0) for c, s in zip(centres, scale)]
    joints = [J[f"left_{name}{k}"] for k in (1, 2, 3)]
    keys = make_stations(rows, {1: joints[0], 3: joints[1], 4: joints[2]})
    _check_on_joints(keys)
    return build_sweep(keys, part=Part.LEFT_FINGERS, chain=[J["left_wrist"]] + joints,
                       spacing_m=0.01, n=8, ref_u=Z, ref_v=Y, cap_m=(0.006, r_tip),
                       blend_m=0.008, cap_rings=2)


def leg(side: str) -> Primitive:
    """Hip to ankle of one side (the top ends inside the torso): ``Part.*_LEG``."""
    rows = [
        ((0.085, -0.37, 0.0), (0.085, 0.085), 2.0),
        ((0.09, -0.44, 0.0), (0.088, 0.092), 2.0),
        ((0.092, -0.53, 0.003), (0.080, 0.083), 2.0),
        ((0.093, -0.64, 0.006), (0.068, 0.070), 2.0),
        ((0.094, -0.75, 0.008), (0.056, 0.058), 2.0),
        ((0.095, -0.83, 0.01), (0.050, 0.052), 2.0),
        ((0.094, -0.90, 0.002), (0.051, 0.051, 0.048, 0.060), 2.0),
        ((0.093, -0.98, -0.008), (0.049, 0.049, 0.045, 0.062), 2.0),
        ((0.091, -1.10, -0.022), (0.036, 0.036), 2.0),
        ((0.09, -1.20, -0.03), (0.031, 0.034), 2.0),
        ((0.09, -1.215, -0.03), (0.030, 0.032), 2.0),
    ]
    keys = make_stations(rows, {1: J["left_hip"], 5: J["left_knee"], 9: J["left_ankle"]})
    _check_on_joints(keys)
    chain = [J["pelvis"]] + [J[f"left_{n}"] for n in ("hip", "knee", "ankle")]
    left = build_sweep(keys, part=Part.LEFT_LEG, chain=chain, spacing_m=0.028, n=18, ref_u=X,
                       ref_v=Z, cap_m=(0.02, 0.025), blend_m=0.06)
    return left if side == "left" else mirror_primitive(left, Part.RIGHT_LEG)


def foot(side: str) -> Primitive:
    """Heel to toe tip of one side, sole at ``SOLE_Y_M``; the ball of the foot is the
    ``*_foot`` joint: ``Part.*_FOOT``."""
    # z, x, +u (lateral), -u (medial), top, bottom half-extents
    profile = [
        (-0.065, 0.088, 0.028, 0.028, 0.030, 0.033), (-0.03, 0.090, 0.033, 0.033, 0.052, 0.036),
        (0.02, 0.095, 0.040, 0.036, 0.042, 0.028), (0.06, 0.098, 0.045, 0.038, 0.032, 0.022),
        (0.10, 0.100, 0.048, 0.040, 0.020, 0.018), (0.135, 0.102, 0.042, 0.040, 0.015, 0.013),
        (0.152, 0.104, 0.034, 0.038, 0.012, 0.011),
    ]
    rows = [((x, SOLE_Y_M + bot, z), (lat, med, top, bot), 2.6)
            for z, x, lat, med, top, bot in profile]
    keys = make_stations(rows, {4: J["left_foot"]})
    _check_on_joints(keys)
    # The foot sweep carries no ankle station; the ankle drives the heel and the arch.
    left = build_sweep(keys, part=Part.LEFT_FOOT, chain=[J["left_ankle"], J["left_foot"]],
                       spacing_m=0.02, n=16, ref_u=X, ref_v=Y, cap_m=(0.025, 0.022),
                       blend_m=0.03, normal=Z)
    return left if side == "left" else mirror_primitive(left, Part.RIGHT_FOOT)


def eyeball(side: str) -> Primitive:
    """Sphere of radius ``EYE_RADIUS_M`` centred on the eye joint, swept along +z so that
    its end pole is the pupil (front of the eye): ``Part.*_EYE``, weighted to the eye joint."""
    if side == "right":
        return mirror_primitive(eyeball("left"), Part.RIGHT_EYE)
    joint = J["left_eye_smplhf"]
    centre = rest_joints()[joint]
    phis = np.pi * np.arange(1, 8) / 8
    rows = [(centre + np.array([0, 0, -EYE_RADIUS_M * np.cos(p)]),
             (EYE_RADIUS_M * np.sin(p),) * 2, 2.0) for p in phis]
    st = make_stations(rows)
    cap = EYE_RADIUS_M * (1 - np.cos(phis[0]))
    verts, faces, ring_c, rings, centres = sweep_surface(
        st, n=12, ref_u=X, ref_v=Y, cap_m=(cap, cap), cap_rings=0)
    weights = np.zeros((len(verts), NUM_JOINTS))
    weights[:, joint] = 1.0
    ring_c = np.repeat(centre[None], len(verts), axis=0)  # radial = from the eye centre
    return Primitive(verts, faces, ring_c, weights, int(Part.LEFT_EYE), rings, centres,
                     len(verts) - 1)


def body_parts() -> list[Primitive]:
    """All non-head primitives: torso, then per side arm, 5 fingers, leg, foot, eyeball."""
    prims = [torso()]
    for side in ("left", "right"):
        prims.append(arm(side))
        prims.extend(finger(side, name) for name in FINGERS)
        prims.extend([leg(side), foot(side), eyeball(side)])
    return prims
