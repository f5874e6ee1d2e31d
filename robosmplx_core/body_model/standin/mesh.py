"""Closed swept tubes: the one primitive every stand-in body part is built from.

A sweep is a sequence of R stations along a polyline; each station carries a centre, a
cross-section frame (u, v perpendicular to the path) and four half-extents (+u, -u, +v, -v) of
a super-ellipse. Each station becomes a ring of n vertices; the two ends are closed by rounded
caps and a pole vertex, so every primitive is a closed genus-0 surface (V = R'n + 2 vertices,
F = 2V - 4 faces) with outward-facing triangles.

Units: metres. Angles in radians. Ring vertex k sits at angle theta_k from +u toward +v.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import PchipInterpolator

from robosmplx_core.body_model.standin.skeleton import NUM_JOINTS


@dataclass(frozen=True)
class Primitive:
    """One closed surface of the stand-in with its per-vertex data.

    Fields (n vertices, m faces, R rings of ``ring_size`` vertices; indices are local):
        vertices: ``(n, 3)`` float64 rest positions, metres.
        faces: ``(m, 3)`` int64, counter-clockwise seen from outside.
        ring_centres: ``(n, 3)`` the centre of the ring each vertex belongs to (poles: itself).
        weights: ``(n, 55)`` skinning weights, rows sum to 1.
        part: integer part id (see ``parts.Part``).
        rings: ``(R, ring_size)`` local vertex indices of every ring, path order.
        station_centres: ``(R, 3)`` ring centres, metres.
        tip: local index of the end pole vertex (e.g. a fingertip).
    """

    vertices: np.ndarray
    faces: np.ndarray
    ring_centres: np.ndarray
    weights: np.ndarray
    part: int
    rings: np.ndarray
    station_centres: np.ndarray
    tip: int


@dataclass(frozen=True)
class Stations:
    """Key cross-sections of a sweep (K keys), interpolated by ``refine``.

    Fields:
        centres: ``(K, 3)`` metres, path polyline.
        radii: ``(K, 4)`` half-extents along +u, -u, +v, -v, metres.
        exponent: ``(K,)`` super-ellipse exponent (2 = ellipse, larger = boxier).
        joint: ``(K,)`` int, the joint located at this station or -1.
    """

    centres: np.ndarray
    radii: np.ndarray
    exponent: np.ndarray
    joint: np.ndarray


def make_stations(rows: list[tuple], joint_of: dict[int, int] | None = None) -> Stations:
    """Build ``Stations`` from rows ``(centre (3,), radii (4,), exponent)``.

    Args:
        rows: K rows; ``radii`` may be 2 values (u, v) meaning symmetric half-extents.
        joint_of: row index -> joint id for rows placed exactly at a joint.
    """
    centres = np.array([r[0] for r in rows], dtype=np.float64)
    radii = []
    for r in rows:
        rad = tuple(r[1])
        radii.append(rad if len(rad) == 4 else (rad[0], rad[0], rad[1], rad[1]))
    joint = np.full(len(rows), -1, dtype=np.int64)
    for row, j in (joint_of or {}).items():
        joint[row] = j
    return Stations(centres, np.array(radii, dtype=np.float64),
                    np.array([r[2] for r in rows], dtype=np.float64), joint)


def arc_length(centres: np.ndarray) -> np.ndarray:
    """Cumulative path length ``(K,)`` of a polyline ``(K, 3)``, metres, starting at 0."""
    seg = np.linalg.norm(np.diff(centres, axis=0), axis=1)
    return np.concatenate([[0.0], np.cumsum(seg)])


def refine(keys: Stations, spacing_m: float | np.ndarray) -> Stations:
    """Insert stations between keys so no gap exceeds ``spacing_m`` (a scalar or one value
    per key gap, ``(K - 1,)``, metres).

    Centres and radii are interpolated with a monotone cubic (PCHIP) in the key polyline's
    arc length: smooth, without overshoot, and exactly through the keys (so stations marked
    with a joint stay exactly on it).
    """
    s_key = arc_length(keys.centres)
    gaps = np.broadcast_to(np.asarray(spacing_m, dtype=np.float64), (len(s_key) - 1,))
    samples = [np.array([0.0])]
    for a, b, gap in zip(s_key[:-1], s_key[1:], gaps):
        count = max(1, int(np.ceil((b - a) / gap - 1e-9)))
        samples.append(np.linspace(a, b, count + 1)[1:])
    s_all = np.concatenate(samples)
    centres = PchipInterpolator(s_key, keys.centres, axis=0)(s_all)
    radii = PchipInterpolator(s_key, keys.radii, axis=0)(s_all)
    exponent = np.interp(s_all, s_key, keys.exponent)
    joint = np.full(len(s_all), -1, dtype=np.int64)
    for k, j in enumerate(keys.joint):
        if j >= 0:
            joint[int(np.argmin(np.abs(s_all - s_key[k])))] = j
    return Stations(centres, radii, exponent, joint)


def _frames(
    centres: np.ndarray, ref_u: np.ndarray, ref_v: np.ndarray, normal: np.ndarray | None
) -> tuple[np.ndarray, ...]:
    """Ring-plane normal ``t`` and cross-section axes ``u``, ``v``, each ``(R, 3)`` unit
    vectors. ``t`` follows the path unless a fixed ``normal`` ``(3,)`` is given (then all
    rings are parallel, e.g. horizontal rings for the trunk and head)."""
    if normal is None:
        t = np.gradient(centres, axis=0)
    else:
        t = np.repeat(normal[None, :], len(centres), axis=0)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    u = ref_u[None, :] - (t @ ref_u)[:, None] * t
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(t, u)
    v *= np.sign(v @ ref_v)[:, None]
    return t, u, v


def _add_caps(st: Stations, t: np.ndarray, cap_m: tuple[float, float], cap_rings: int) -> tuple:
    """Rounded end caps: extra stations shrinking as cos(phi), plus the two pole points.

    Returns ``(centres (R', 3), radii (R', 4), exponent (R',), pole_start (3,), pole_end (3,))``.
    """
    phis = np.pi / 2 * np.arange(1, cap_rings + 1) / (cap_rings + 1)
    head_c = [st.centres[0] - t[0] * cap_m[0] * np.sin(p) for p in phis[::-1]]
    head_r = [st.radii[0] * np.cos(p) for p in phis[::-1]]
    tail_c = [st.centres[-1] + t[-1] * cap_m[1] * np.sin(p) for p in phis]
    tail_r = [st.radii[-1] * np.cos(p) for p in phis]
    centres = np.concatenate([np.reshape(head_c, (-1, 3)), st.centres, np.reshape(tail_c, (-1, 3))])
    radii = np.concatenate([np.reshape(head_r, (-1, 4)), st.radii, np.reshape(tail_r, (-1, 4))])
    exponent = np.concatenate([np.full(cap_rings, st.exponent[0]), st.exponent,
                               np.full(cap_rings, st.exponent[-1])])
    return (centres, radii, exponent, st.centres[0] - t[0] * cap_m[0],
            st.centres[-1] + t[-1] * cap_m[1])


def ring_angles(n: int, front_density: float = 0.0) -> np.ndarray:
    """Angles ``(n,)`` of ring vertices, radians; ``front_density`` in [0, 1) packs them
    around +v (theta = pi/2) by the symmetric warp theta = phi + a cos(phi)."""
    phi = 2.0 * np.pi * np.arange(n) / n
    return phi + front_density * np.cos(phi)


def sweep_surface(
    st: Stations,
    *,
    n: int,
    ref_u: tuple[float, float, float],
    ref_v: tuple[float, float, float],
    cap_m: tuple[float, float],
    cap_rings: int = 3,
    front_density: float = 0.0,
    normal: tuple[float, float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vertices and faces of a closed sweep.

    Args:
        st: stations (R of them) along the path.
        n: vertices per ring.
        ref_u, ref_v: directions the cross-section axes u (+u radius) and v are aligned to.
        cap_m: length of the start and end caps beyond the first/last station, metres.
        cap_rings: extra rings per cap.
        front_density: angular packing toward +v, see ``ring_angles``.
        normal: a fixed normal for every ring plane (and the cap direction); by default
            rings are perpendicular to the path.

    Returns:
        vertices ``(V, 3)``, faces ``(F, 3)`` int64 outward, ring_centres ``(V, 3)``,
        rings ``(R + 2 cap_rings, n)`` vertex indices, station_centres ``(R + 2 cap_rings, 3)``.
        The start pole is vertex V-2, the end pole V-1.
    """
    ref_u_arr, ref_v_arr = np.asarray(ref_u, float), np.asarray(ref_v, float)
    fixed = None if normal is None else np.asarray(normal, float)
    t, _, _ = _frames(st.centres, ref_u_arr, ref_v_arr, fixed)
    centres, radii, expo, pole0, pole1 = _add_caps(st, t, cap_m, cap_rings)
    _, u_all, v_all = _frames(centres, ref_u_arr, ref_v_arr, fixed)
    theta = ring_angles(n, front_density)
    c, s = np.cos(theta)[None, :], np.sin(theta)[None, :]
    p = 2.0 / expo[:, None]
    cu = np.sign(c) * np.abs(c) ** p
    sv = np.sign(s) * np.abs(s) ** p
    ru = np.where(cu >= 0, radii[:, :1], radii[:, 1:2])
    rv = np.where(sv >= 0, radii[:, 2:3], radii[:, 3:4])
    ring_pts = (centres[:, None, :] + (ru * cu)[..., None] * u_all[:, None, :]
                + (rv * sv)[..., None] * v_all[:, None, :])
    num_rings = len(centres)
    vertices = np.concatenate([ring_pts.reshape(-1, 3), pole0[None], pole1[None]])
    ring_centres = np.concatenate([np.repeat(centres, n, axis=0), pole0[None], pole1[None]])
    rings = np.arange(num_rings * n).reshape(num_rings, n)
    faces = _tube_faces(num_rings, n)
    faces = orient_outward(vertices, faces)
    return vertices, faces, ring_centres, rings, centres


def _tube_faces(num_rings: int, n: int) -> np.ndarray:
    """Triangles ``(2 n num_rings, 3)`` of a capped tube (poles at indices R n and R n + 1)."""
    k = np.arange(n)
    k1 = (k + 1) % n
    quads = []
    for i in range(num_rings - 1):
        a, b = i * n + k, i * n + k1
        c, d = (i + 1) * n + k1, (i + 1) * n + k
        quads.append(np.stack([a, b, c], 1))
        quads.append(np.stack([a, c, d], 1))
    p0, p1 = num_rings * n, num_rings * n + 1
    last = (num_rings - 1) * n
    fan0 = np.stack([np.full(n, p0), k1, k], 1)
    fan1 = np.stack([np.full(n, p1), last + k, last + k1], 1)
    return np.concatenate(quads + [fan0, fan1]).astype(np.int64)


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Signed volume (m^3) enclosed by a closed triangle mesh; > 0 when faces point outward."""
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def orient_outward(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Return ``faces`` ``(F, 3)``, flipped if needed so the closed surface faces outward."""
    return faces if signed_volume(vertices, faces) > 0 else faces[:, ::-1].copy()


def gaussian(d: np.ndarray, sigma: float | np.ndarray) -> np.ndarray:
    """Unnormalised Gaussian falloff exp(-d^2 / (2 sigma^2)), same shape as ``d``."""
    return np.exp(-0.5 * (np.asarray(d) / sigma) ** 2)


def smoothstep(x: np.ndarray) -> np.ndarray:
    """C1 step from 0 (x <= -1) to 1 (x >= 1), equal to 0.5 at x = 0."""
    t = np.clip((np.asarray(x, dtype=np.float64) + 1.0) / 2.0, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def chain_weights(
    s: np.ndarray, chain: list[int], chain_s: list[float], blend_m: float
) -> np.ndarray:
    """Skinning weights along a joint chain, as a function of path position.

    ``chain[0]`` is the parent of the first positioned joint (it drives everything before
    ``chain_s[0]``); ``chain[k + 1]`` sits at path position ``chain_s[k]`` and drives the path up
    to the next joint. Transitions are smooth, 50/50 exactly at a joint and at most
    ``blend_m`` (and 45 % of the adjacent bone) wide on each side, so rotating a joint moves
    only its own bone, its descendants and the blend zone at the joint.

    Args:
        s: ``(n,)`` path positions of the vertices, metres.
        chain: joint ids, length L + 1.
        chain_s: positions of ``chain[1:]`` along the path, increasing, length L.
        blend_m: maximum half width of a blend zone, metres.

    Returns:
        ``(n, 55)`` weights, rows sum to 1.
    """
    pos = np.asarray(chain_s, dtype=np.float64)
    gaps = np.diff(pos)
    half = np.full(len(pos), blend_m)
    half[:-1] = np.minimum(half[:-1], 0.45 * gaps)
    half[1:] = np.minimum(half[1:], 0.45 * gaps)
    steps = [smoothstep((s - p) / h) for p, h in zip(pos, half)]
    weights = np.zeros((len(s), NUM_JOINTS))
    weights[:, chain[0]] += 1.0 - steps[0]
    for k in range(len(pos)):
        nxt = steps[k + 1] if k + 1 < len(pos) else 0.0
        weights[:, chain[k + 1]] += steps[k] - nxt
    weights = np.clip(weights, 0.0, None)
    return weights / weights.sum(axis=1, keepdims=True)


def vertex_path_positions(
    station_centres: np.ndarray, ring_size: int, cap_m: tuple[float, float], cap_rings: int
) -> np.ndarray:
    """Path position ``(V,)`` of every sweep vertex (metres, 0 at the first key station).

    Cap rings get negative positions (start) or positions beyond the end; poles the cap tips.
    """
    body = arc_length(station_centres[cap_rings: len(station_centres) - cap_rings])
    phis = np.pi / 2 * np.arange(1, cap_rings + 1) / (cap_rings + 1)
    head = -cap_m[0] * np.sin(phis[::-1])
    tail = body[-1] + cap_m[1] * np.sin(phis)
    ring_s = np.concatenate([head, body, tail])
    return np.concatenate([np.repeat(ring_s, ring_size), [-cap_m[0], body[-1] + cap_m[1]]])
