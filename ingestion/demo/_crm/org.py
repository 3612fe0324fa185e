"""The sales org: a role tree, teams by segment and region, and the users in them (hires, ramp-up, departures)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _names as names
from .._common import DAY, HOUR, N_DAYS, SPAN_END, SPAN_START, day_of, sf_ids, ts_of, weekday
from .common import Emit, versions

SEGMENTS = ["SMB", "Mid-Market", "Enterprise"]
REGIONS = ["AMER East", "AMER West", "EMEA", "APAC"]
REGION_UTC_OFFSET = np.array([-5, -8, 1, 9])
# Team layout of a typical sales org: every segment covered by the first three teams, the home market
# (AMER) largest, then EMEA and APAC.
TEAM_TEMPLATE = [
    (2, 0),
    (1, 2),
    (0, 0),
    (2, 2),
    (1, 0),
    (0, 2),
    (1, 1),
    (0, 1),
    (2, 3),
    (1, 3),
    (2, 1),
    (0, 0),
]


@dataclass
class Users:
    """One entry per user: the VP Sales (0), then one manager per team, then the reps."""

    ids: np.ndarray
    email: np.ndarray
    name: np.ndarray
    team: np.ndarray  # -1 for the VP
    kind: np.ndarray  # 0 VP, 1 manager, 2 rep
    seg: np.ndarray  # index into SEGMENTS; -1 for the VP
    reg: np.ndarray  # index into REGIONS
    hire: np.ndarray
    leave: np.ndarray  # the int64 maximum for those who stay
    hired_in_span: np.ndarray
    skill: np.ndarray  # shifts a rep's win rate (log-odds)
    team_mgr: np.ndarray  # the user index of each team's manager

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def reps(self) -> np.ndarray:
        return np.nonzero(self.kind == 2)[0]


def build(rng, scale: float, emit: Emit) -> Users:
    """Roles and users (emitted as UserRole and User)."""
    n_users = max(14, round(100 * scale))
    n_mgr = max(3, round(n_users / 10))
    n_rep = n_users - 1 - n_mgr
    team_seg, team_reg, team_name = _teams(n_mgr)
    role_ids = _write_roles(emit, team_name)
    team = np.concatenate([[-1], np.arange(n_mgr), np.arange(n_rep) % n_mgr])
    kind = np.concatenate([[0], np.ones(n_mgr, int), np.full(n_rep, 2)])
    seg = np.where(team >= 0, team_seg[np.maximum(team, 0)], -1)
    reg = np.where(team >= 0, team_reg[np.maximum(team, 0)], 0)
    hired_in_span, hire, leave = _tenure(rng, kind)
    name, email = _names(rng, n_users)
    title = _titles(rng, kind, seg, hired_in_span)
    skill = rng.normal(0.0, 0.35, n_users)
    users = Users(
        ids=sf_ids("005", np.arange(n_users) + 4000),
        email=email,
        name=name,
        team=team,
        kind=kind,
        seg=seg,
        reg=reg,
        hire=hire,
        leave=leave,
        hired_in_span=hired_in_span,
        skill=skill,
        team_mgr=1 + np.arange(n_mgr),
    )
    _write_users(emit, users, role_ids, title)
    return users


def rep_capacity(users: Users, days: np.ndarray) -> np.ndarray:
    """(rep, day) weight of opening pipeline: employed, ramped up over 90 days, by segment, in a growing company."""
    reps = users.reps
    employed = (days[None, :] >= users.hire[reps, None]) & (days[None, :] < users.leave[reps, None])
    ramp = np.clip((days[None, :] - users.hire[reps, None]) / (90 * DAY), 0.25, 1.0)
    seg_rate = np.array([1.6, 1.0, 0.45])[users.seg[reps]]
    growth = 1 + 0.35 * ((days - SPAN_START) // DAY) / N_DAYS
    wd = np.where(weekday(days) < 5, 1.0, 0.08)
    return employed * ramp * seg_rate[:, None] * (growth * wd)[None, :]


def _teams(n_mgr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segment, region and name of each team (one per manager)."""
    team_seg = np.array([TEAM_TEMPLATE[k % len(TEAM_TEMPLATE)][0] for k in range(n_mgr)])
    team_reg = np.array([TEAM_TEMPLATE[k % len(TEAM_TEMPLATE)][1] for k in range(n_mgr)])
    seen: dict[tuple[int, int], int] = {}
    team_name = []
    for s, r in zip(team_seg, team_reg, strict=True):
        occ = seen.get((s, r), 0)
        seen[(s, r)] = occ + 1
        team_name.append(f"{SEGMENTS[s]} {REGIONS[r]}" + (f" {occ + 1}" if occ else ""))
    return team_seg, team_reg, np.array(team_name, dtype=object)


def _write_roles(emit: Emit, team_name: np.ndarray) -> np.ndarray:
    """Roles 0 CEO, 1 VP Sales, then per team a manager role and an AE role under it; returns their ids."""
    n_roles = 2 + 2 * len(team_name)
    role_ids = sf_ids("00E", np.arange(n_roles) + 1200)
    role_name = np.empty(n_roles, dtype=object)
    role_name[:2] = ["CEO", "VP Sales"]
    role_name[2::2] = team_name + " Sales Manager"
    role_name[3::2] = team_name + " Account Executive"
    role_parent = np.empty(n_roles, dtype=object)
    role_parent[0] = None
    role_parent[1] = role_ids[0]
    role_parent[2::2] = role_ids[1]
    role_parent[3::2] = role_ids[2::2]
    # Sales leadership retitled its managers in early 2025: a real rename the loader must pick up.
    renamed = np.arange(2, n_roles, 2)
    r_key = np.concatenate([np.arange(n_roles), renamed])
    r_ts = np.concatenate(
        [np.full(n_roles, ts_of("2019-01-02")), np.full(len(renamed), ts_of("2025-02-03T16:00"))]
    )
    r_name = np.concatenate(
        [role_name, np.array([team_name[(i - 2) // 2] + " Sales Director" for i in renamed], dtype=object)]
    )
    columns = {"Id": role_ids[r_key], "Name": r_name, "ParentRoleId": role_parent[r_key]}
    emit("UserRole", versions("UserRole", columns, r_key, r_ts))
    return role_ids


def _tenure(rng, kind: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hire and leave instants. Tenured staff joined before the window; ~28 % of reps join (and ramp) in it."""
    n_users = len(kind)
    hired_in_span = (kind == 2) & (rng.random(n_users) < 0.28)
    hire = np.where(
        hired_in_span,
        ts_of("2024-02-01") + rng.integers(0, ts_of("2025-09-30") - ts_of("2024-02-01"), n_users),
        ts_of("2020-01-06") + rng.integers(0, ts_of("2023-12-15") - ts_of("2020-01-06"), n_users),
    )
    hire[0] = ts_of("2019-03-04T15:30:00")
    hire = day_of(hire) * DAY + 15 * HOUR + rng.integers(0, 3 * HOUR, n_users)
    leaver = (kind == 2) & (rng.random(n_users) < 0.09) & (hire < ts_of("2025-05-01"))
    leave_lo = np.maximum(hire + 180 * DAY, ts_of("2024-03-01"))
    leave = np.where(
        leaver,
        leave_lo + (rng.random(n_users) * (ts_of("2025-11-30") - leave_lo)).astype(np.int64),
        np.iinfo(np.int64).max,
    )
    return hired_in_span, hire, leave


def _names(rng, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct first/last name pairs and the company e-mail made of them."""
    n_pairs = len(names.FIRST_NAMES) * len(names.LAST_NAMES)
    pairs = rng.choice(n_pairs, n_users, replace=n_users > n_pairs)
    first = np.array(names.FIRST_NAMES, dtype=object)[pairs // len(names.LAST_NAMES)]
    last = np.array(names.LAST_NAMES, dtype=object)[pairs % len(names.LAST_NAMES)]
    local = np.char.lower((first + "." + last).astype(str))
    if n_users > n_pairs:
        local = np.char.add(local, np.arange(n_users).astype(str))
    return first + " " + last, np.char.add(local, "@northpeak.io").astype(object)


def _titles(rng, kind: np.ndarray, seg: np.ndarray, hired_in_span: np.ndarray) -> np.ndarray:
    senior = rng.random(len(kind)) < 0.35
    return np.where(
        kind == 0,
        "VP Sales",
        np.where(
            kind == 1,
            "Sales Manager",
            np.where(
                seg == 2,
                "Enterprise Account Executive",
                np.where(senior & ~hired_in_span, "Senior Account Executive", "Account Executive"),
            ),
        ),
    )


def _write_users(emit: Emit, u: Users, role_ids: np.ndarray, title: np.ndarray) -> None:
    """A version at hire, and one at departure (IsActive false) for those who left."""
    n_mgr = len(u.team_mgr)
    n_rep = u.n - 1 - n_mgr
    role = np.where(
        u.kind == 0, 1, np.where(u.kind == 1, 2 + 2 * np.maximum(u.team, 0), 3 + 2 * np.maximum(u.team, 0))
    )
    manager = np.concatenate(
        [[None], np.full(n_mgr, u.ids[0], dtype=object), u.ids[1 + (np.arange(n_rep) % n_mgr)]]
    )
    dept = np.where(u.seg >= 0, np.array(SEGMENTS, dtype=object)[np.maximum(u.seg, 0)], "Sales")
    has_left = u.leave < SPAN_END
    uk = np.concatenate([np.arange(u.n), np.nonzero(has_left)[0]])
    uts = np.concatenate([u.hire, u.leave[has_left]])
    columns = {
        "Id": u.ids[uk],
        "Name": u.name[uk],
        "Email": u.email[uk],
        "IsActive": np.concatenate([np.ones(u.n, bool), np.zeros(has_left.sum(), bool)]),
        "ManagerId": manager[uk],
        "UserRoleId": role_ids[role[uk]],
        "Title": title[uk],
        "Department": dept[uk],
        "CreatedDate": u.hire[uk],
        "SystemModstamp": uts,
    }
    emit("User", versions("User", columns, uk, uts))
