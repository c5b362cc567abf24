"""The DMD label vocabulary and its mapping to this project's driver labels.

DMD annotates temporal "levels" (annotation groups); an OpenLABEL action's ``type`` is
``"<level>/<label>"`` and the labels of one level are mutually exclusive. The levels read here
and how they map (see docs/datasets.md for the table):

* ``gaze_zone`` (gaze recordings): DMD's nine regions -> :data:`sensors.classes.GAZE_ZONES`;
  regions without a counterpart (``left``, ``right``, ``front_right`` windows, ``not_valid``)
  map to None: unknown zone, left out of the gaze accuracy.
* ``gaze_on_road`` (distraction recordings): ``looking_road`` -> zone ``road``;
  ``not_looking_road`` -> zone unknown, ``looking_at_road`` False.
* eye state, per level ``eyes_state`` / ``eye_state`` or per eye ``eye_state_left`` /
  ``eye_state_right`` (drowsiness recordings): ``open`` -> openness 1, ``opening`` / ``closing``
  -> 0.5 (counted open: DMD's closed is fully closed), ``close`` / ``closed`` -> 0, ``undefined``
  -> unknown. Two eyes: the mean of the known ones; closed when every known eye is closed.
  Closed eyes make the gaze zone ``eyes_closed`` (this project's convention).
* ``driver_actions`` (distraction recordings): ``texting_*`` and ``phonecall_*`` -> phone True,
  every other action -> phone False.

Other levels carry nothing this project scores (``talking``, ``hands_using_wheel``,
``hand_on_gear``, ``blinks``, ``yawning``, ``transition``, ``moving_hands``, objects) and are not
read, nor are levels unknown here (newer DMD releases add levels); an unknown label of a level that
is read is an error naming the file.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from sensors.classes import EYE_STATES, GAZE_ZONES
from sensors.frame import DriverLabels

#: DMD gaze region -> gaze zone (None: no counterpart).
GAZE_ZONE_MAP: Final[dict[str, str | None]] = {
    "front": "road", "left_mirror": "left_mirror", "right_mirror": "right_mirror", "center_mirror": "rear_mirror",
    "infotainment": "infotainment", "steering_wheel": "instrument_cluster",
    "left": None, "right": None, "front_right": None, "not_valid": None,
}
#: ``gaze_on_road`` label -> looking at the road.
GAZE_ON_ROAD: Final[dict[str, bool]] = {"looking_road": True, "not_looking_road": False}
#: Eye-state label -> openness (None: undefined).
EYE_OPENNESS: Final[dict[str, float | None]] = {
    "open": 1.0, "opening": 0.5, "closing": 0.5, "close": 0.0, "closed": 0.0, "undefined": None,
}
EYE_LEVELS: Final = ("eyes_state", "eye_state", "eye_state_left", "eye_state_right")
#: ``driver_actions`` labels (distraction recordings) and which of them are phone use.
DRIVER_ACTIONS: Final[dict[str, bool]] = {
    "safe_drive": False, "texting_right": True, "phonecall_right": True, "texting_left": True,
    "phonecall_left": True, "radio": False, "drinking": False, "reach_side": False, "hair_and_makeup": False,
    "talking_to_passenger": False, "reach_backseat": False, "change_gear": False, "standstill_or_waiting": False,
    "unclassified": False,
}
#: Levels whose labels are checked against these vocabularies.
READ_LEVELS: Final[dict[str, Mapping[str, object]]] = {
    "gaze_zone": GAZE_ZONE_MAP, "gaze_on_road": GAZE_ON_ROAD, "driver_actions": DRIVER_ACTIONS,
    **{level: EYE_OPENNESS for level in EYE_LEVELS},
}
#: Gaze zone -> the DMD gaze region the writer uses (None: none fits, no region written).
ZONE_TO_DMD: Final[dict[str, str | None]] = {
    "road": "front", "left_mirror": "left_mirror", "right_mirror": "right_mirror", "rear_mirror": "center_mirror",
    "infotainment": "infotainment", "instrument_cluster": "steering_wheel", "lap_or_phone": None, "eyes_closed": None,
}


def driver_labels(levels: Mapping[str, str]) -> DriverLabels | None:
    """This project's labels of one frame from its DMD labels ``{level: label}`` (labels already
    checked against :data:`READ_LEVELS`); None when the frame carries none of them."""
    openness = [EYE_OPENNESS[levels[lv]] for lv in EYE_LEVELS if lv in levels]
    known = [o for o in openness if o is not None]
    eye_openness = sum(known) / len(known) if known else None
    closed = bool(known) and all(o == 0.0 for o in known)
    eye_state = None if eye_openness is None else EYE_STATES.index("closed" if closed else "open")
    zone = None
    looking = None
    if "gaze_zone" in levels:
        zone = GAZE_ZONE_MAP[levels["gaze_zone"]]
    elif "gaze_on_road" in levels:
        looking = GAZE_ON_ROAD[levels["gaze_on_road"]]
        zone = "road" if looking else None
    if closed:
        zone, looking = "eyes_closed", None
    elif zone is not None:
        looking = None
    phone = DRIVER_ACTIONS[levels["driver_actions"]] if "driver_actions" in levels else None
    if eye_openness is None and zone is None and looking is None and phone is None:
        return None
    return DriverLabels(eye_openness=eye_openness, eye_state=eye_state,
                        gaze_zone=None if zone is None else GAZE_ZONES.index(zone), head_pose=None, phone=phone,
                        looking_at_road=looking)


def dmd_levels(labels: DriverLabels) -> dict[str, str]:
    """The DMD labels ``{level: label}`` the writer gives one frame of complete labels: eye state,
    ``gaze_on_road``, ``gaze_zone`` (where a region fits) and ``driver_actions`` (phone use:
    ``texting_right`` when the gaze is on the lap, else ``phonecall_right``)."""
    out: dict[str, str] = {}
    if labels.eye_state is not None:
        out["eyes_state"] = "close" if EYE_STATES[labels.eye_state] == "closed" else "open"
    if labels.gaze_zone is not None:
        zone = GAZE_ZONES[labels.gaze_zone]
        out["gaze_on_road"] = "looking_road" if zone == "road" else "not_looking_road"
        region = ZONE_TO_DMD[zone]
        if region is not None:
            out["gaze_zone"] = region
    if labels.phone is not None:
        lap = labels.gaze_zone is not None and GAZE_ZONES[labels.gaze_zone] == "lap_or_phone"
        out["driver_actions"] = ("texting_right" if lap else "phonecall_right") if labels.phone else "safe_drive"
    return out
