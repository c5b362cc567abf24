"""Official nuScenes scene splits (scene names per split, facts of the dataset).

The lists equal ``nuscenes.utils.splits`` of nuscenes-devkit 1.2.0 (a test checks it); they are
kept here so that the reader works without the devkit. Scene numbers are stored as compact
ranges ``"first-last,..."`` and expanded to names ``scene-NNNN``.
"""
from __future__ import annotations

from typing import Final


def _expand(ranges: str) -> tuple[str, ...]:
    """Scene names of a comma-separated list of numbers and inclusive ``a-b`` ranges."""
    names: list[str] = []
    for part in ranges.split(","):
        first, _, last = part.partition("-")
        names.extend(f"scene-{n:04d}" for n in range(int(first), int(last or first) + 1))
    return tuple(names)


#: split name -> official scene names, in ascending scene number.
SPLITS: Final[dict[str, tuple[str, ...]]] = {
    "train": _expand(
        "1-2,4-11,19-34,41-76,120-135,138-139,149-152,154-155,157-168,170-185,187-188,190-196,199-"
        "200,202-204,206-214,218-220,222,224-264,283-306,315-318,321,323-324,328,347-386,388-403,405-"
        "408,410-459,461-465,467-469,471-472,474-480,499-502,504-515,517-518,525-539,541-546,566,568,570-"
        "578,580,582-600,639-679,681,683-689,695-698,700-701,703-719,726-728,730-731,733-741,744,746-"
        "747,749-752,757-765,767-769,786-787,789-792,803-806,808-813,815-817,819-822,847-856,858,860-"
        "866,868-873,875-878,880,882-903,945,947,949,952-953,955-961,975-984,988-992,994-1025,1044-"
        "1058,1074-1102,1104-1110"
    ),
    "val": _expand(
        "3,12-18,35-36,38-39,92-110,221,268-278,329-332,344-346,519-524,552-565,625-627,629-630,632-"
        "638,770-771,775,777-778,780-784,794-800,802,904-917,919-931,962-963,966-969,971-972,1059-1073"
    ),
    "test": _expand(
        "77-91,111-119,140,142-148,265-266,279-282,307-314,333-343,481-498,547-551,601-604,606-624,827-"
        "831,833-842,844-846,932-933,935-943,1026-1043"
    ),
    "mini_train": _expand(
        "61,553,655,757,796,1077,1094,1100"
    ),
    "mini_val": _expand(
        "103,916"
    ),
}

#: dataset version -> the splits whose scenes it holds.
VERSION_SPLITS: Final[dict[str, tuple[str, ...]]] = {
    "v1.0-mini": ("mini_train", "mini_val"),
    "v1.0-trainval": ("train", "val"),
    "v1.0-test": ("test",),
}


def version_of_split(split: str) -> str:
    """The dataset version whose scenes make up ``split`` (ValueError for an unknown split)."""
    for version, splits in VERSION_SPLITS.items():
        if split in splits:
            return version
    raise ValueError(f"unknown nuScenes split {split!r}; expected one of {tuple(SPLITS)}")


def scenes_of_version(version: str) -> frozenset[str]:
    """All official scene names of a dataset version (ValueError for an unknown version)."""
    if version not in VERSION_SPLITS:
        raise ValueError(f"unknown nuScenes version {version!r}; expected one of {tuple(VERSION_SPLITS)}")
    return frozenset(name for split in VERSION_SPLITS[version] for name in SPLITS[split])
