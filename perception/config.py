"""Typed configuration of the model, its heads, the data and training, loaded from YAML.

Every section is a frozen pydantic dataclass (strict types, unknown keys forbidden: pydantic v2
does the type checking); :func:`load_config` builds them from a YAML file and turns the first
validation error into a one-line :class:`ConfigError` that names the file, the dotted key and the
reason. A file may start from another with a top-level ``extends: <path>`` (relative to the file):
its sections are merged key by key into the other file's; any other value, free-form mappings
(``train.strategy_options``, ``data.sim``) included, replaces the other's. ``dataclasses.replace``
of a section validates too. :func:`save_config` writes a config back (atomically), and
``load_config(save_config(c))`` equals ``c``. Units: metres, degrees where stated, pixels.
"""
from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import field
from pathlib import Path
from typing import Any

import pydantic
import yaml
from pydantic.dataclasses import dataclass

from sensors.atomic import atomic_write
from sensors.errors import yaml_problem
from sensors.frame import CAMERA_NAMES, BevGrid


class ConfigError(ValueError):
    """A configuration file or mapping is invalid: the message names the file and key."""


#: Every config section: frozen, strictly typed (no "3" for 3, no 3.0 for an int), no unknown keys.
SECTION = pydantic.ConfigDict(strict=True, extra="forbid")


@dataclass(frozen=True, config=SECTION)
class ImageConfig:
    """Image encoder (shared by the street cameras and the cabin camera).

    Attributes:
        backbone: timm model name, built with ``features_only=True`` and random weights.
        pretrained: path of a LOCAL checkpoint file with backbone weights, or None. Never a
            hub download.
        out_indices: backbone feature levels fed to the FPN (timm ``out_indices``).
        fpn_channels: channels of the FPN output.
        height, width: model input size of the street cameras (pixels) after resize and crop.
        cabin_height, cabin_width: model input size of the cabin camera (pixels).
        mean, std: RGB normalisation applied to images scaled to [0, 1].
    """

    backbone: str = "regnetx_002"
    pretrained: str | None = None
    out_indices: tuple[int, ...] = (2, 3, 4)
    fpn_channels: int = 64
    height: int = 128
    width: int = 352
    cabin_height: int = 96
    cabin_width: int = 128
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)


@dataclass(frozen=True, config=SECTION)
class ViewTransformConfig:
    """Lift-splat view transform.

    Attributes:
        depth_min, depth_max: range of the depth bins along the optical axis (metres).
        depth_bins: number of uniform depth bins D.
        channels: context feature channels C pooled into BEV.
        zmin, zmax: height range (ego z, metres) of frustum points kept for pooling.
    """

    depth_min: float = 1.0
    depth_max: float = 60.0
    depth_bins: int = 32
    channels: int = 64
    zmin: float = -5.0
    zmax: float = 3.0


@dataclass(frozen=True, config=SECTION)
class LidarConfig:
    """LiDAR pillar branch.

    Attributes:
        voxel_size: pillar size (dx, dy, dz) in metres; dz spans the whole z range for pillars.
        point_range: (xmin, ymin, zmin, xmax, ymax, zmax) metres, ego frame. Its x-y extent must
            equal the BEV grid's, and the pillar grid must be the BEV grid times a power of two.
        max_points: points kept per pillar.
        max_voxels: pillars kept per sample.
        channels: pillar feature channels.
    """

    voxel_size: tuple[float, float, float] = (0.4, 0.4, 8.0)
    point_range: tuple[float, float, float, float, float, float] = (-51.2, -51.2, -5.0, 51.2, 51.2, 3.0)
    max_points: int = 20
    max_voxels: int = 30000
    channels: int = 64


@dataclass(frozen=True, config=SECTION)
class BevConfig:
    """Fuser, BEV backbone and neck.

    Attributes:
        grid: the BEV feature grid (detection runs at this resolution).
        fuser_channels: channels after fusing camera and LiDAR BEV.
        layers: conv layers per backbone stage.
        channels: channels per backbone stage.
        strides: stride of the first conv of each stage (the neck upsamples back to stride 1).
        neck_channels: channels per upsampled stage in the neck (concatenated).
    """

    grid: BevGrid = field(default_factory=lambda: BevGrid(-51.2, 51.2, -51.2, 51.2, 0.8))
    fuser_channels: int = 64
    layers: tuple[int, ...] = (2, 2)
    channels: tuple[int, ...] = (64, 128)
    strides: tuple[int, ...] = (1, 2)
    neck_channels: int = 64


@dataclass(frozen=True, config=SECTION)
class DetectionHeadConfig:
    """CenterPoint-style detection head.

    Attributes:
        enabled: build the head (False gives a model without detection).
        channels: hidden channels of the shared head conv.
        min_radius: smallest Gaussian radius (cells) of a heatmap peak.
        min_overlap: IoU criterion of the CenterNet radius formula.
        max_objects: top-K peaks considered when decoding.
        score_threshold: decoded boxes below this score are dropped.
        nms_iou: rotated BEV IoU threshold of the per-class NMS.
        max_boxes: boxes kept per sample after NMS (highest scores).
        heatmap_weight, regression_weight: loss weights of the focal and L1 terms.
        regression_weights: per-channel L1 weights, in the order of
            :data:`perception.model.box_coding.REGRESSION_CHANNELS`.
    """

    enabled: bool = True
    channels: int = 64
    min_radius: int = 2
    min_overlap: float = 0.1
    max_objects: int = 200
    score_threshold: float = 0.1
    nms_iou: float = 0.2
    max_boxes: int = 100
    heatmap_weight: float = 1.0
    regression_weight: float = 0.25
    regression_weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.2, 0.2)


@dataclass(frozen=True, config=SECTION)
class SegmentationHeadConfig:
    """BEV map segmentation head (one sigmoid per :data:`sensors.classes.MAP_CLASSES`).

    Attributes:
        enabled: build the head.
        channels: hidden channels.
        grid: output grid of the map (targets are resampled onto it, nearest).
        fine_channels: channels of the refinement convs on the map grid.
        dice_weight: weight of the dice term added to the per-class BCE.
    """

    enabled: bool = True
    channels: int = 64
    fine_channels: int = 32
    grid: BevGrid = field(default_factory=lambda: BevGrid(-50.0, 50.0, -50.0, 50.0, 0.8))
    dice_weight: float = 1.0


@dataclass(frozen=True, config=SECTION)
class DepthHeadConfig:
    """Dense metric depth per camera.

    Attributes:
        enabled: build the head.
        channels: hidden channels of the refinement convs at the feature stride.
        guide_channels: channels of the image-guided refinement at half the image resolution.
        bin_weight: weight of the cross-entropy of depth bins: on the view transform's distribution
            (BEVDepth-style depth supervision of the lift step; not with
            ``model.sharing.lift_supervision: false``) and, with
            ``model.sharing.depth_distribution: own``, on the head's own (so that with ``own`` and
            lift supervision the depth loss has two such terms).
        max_depth: targets beyond this (metres) are ignored.
    """

    enabled: bool = True
    channels: int = 32
    guide_channels: int = 16
    bin_weight: float = 0.5
    max_depth: float = 80.0


@dataclass(frozen=True, config=SECTION)
class DriverHeadConfig:
    """Driver-monitoring head on the cabin camera.

    Attributes:
        enabled: build the head (the cabin image then is not encoded at all).
        hidden: hidden units of the shared MLP.
        pose_scale_deg: head-pose targets are divided by this (degrees) before the L1 loss.
    """

    enabled: bool = True
    hidden: int = 128
    pose_scale_deg: float = 30.0


@dataclass(frozen=True, config=SECTION)
class HeadsConfig:
    """The four heads."""

    detection: DetectionHeadConfig = field(default_factory=DetectionHeadConfig)
    segmentation: SegmentationHeadConfig = field(default_factory=SegmentationHeadConfig)
    depth: DepthHeadConfig = field(default_factory=DepthHeadConfig)
    driver: DriverHeadConfig = field(default_factory=DriverHeadConfig)


SharingKind = typing.Literal["hard", "task_decoders", "cross_stitch", "sluice", "soft", "routing"]
#: Values of ``model.sharing.kind`` (:mod:`perception.model.sharing`).
SHARING_KINDS: tuple[str, ...] = typing.get_args(SharingKind)


@dataclass(frozen=True, config=SECTION)
class SharingConfig:
    """How the BEV tasks share the BEV backbone (:mod:`perception.model.sharing`, docs/mtl.md).

    Attributes:
        kind: ``hard`` (one backbone), ``task_decoders`` (one per BEV task), ``cross_stitch``
            (Misra et al. 2016), ``sluice`` (Ruder et al. 2019), ``soft`` (Duong et al. 2015) or
            ``routing`` (MMoE, Ma et al. 2018).
        stitch_self_weight: ``cross_stitch``, ``sluice``: initial weight of a task's own branch in each
            cross-stitch unit (the others share the rest; 1.0 starts as separate networks).
        orthogonality_weight: ``sluice``: weight of the orthogonality penalty between subspaces.
        soft_weight: ``soft``: weight of the squared L2 distance between the task copies.
        experts: ``routing``: number of expert backbones.
        balance_weight: ``routing``: weight of the load-balancing (importance) term.
        image_adapters: a non-linear residual bottleneck adapter, starting as the identity, on the
            shared image features for each of their consumers, the view transform and the depth
            head (Houlsby et al. 2019, Rebuffi et al. 2017; :mod:`perception.model.adapters`), with
            any ``kind``; no effect without the camera branch.
        depth_distribution: ``shared``: the depth head refines the view transform's depth
            distribution (one distribution for the lift step and the depth task); ``own``: the
            depth head predicts a distribution of its own from the image features, so the BEV
            losses shaping the lift step's distribution reach the depth estimate only through the
            image encoder.
        lift_supervision: with ``depth_distribution: own``, the depth loss's bin cross-entropy also
            supervises the view transform's distribution (BEVDepth); False: the lift step learns
            from the BEV losses alone and the depth task shares only the image encoder. Must be
            True with ``shared`` (the one distribution is the depth head's).
    """

    kind: SharingKind = "hard"
    stitch_self_weight: float = 0.9
    orthogonality_weight: float = 1e-3
    soft_weight: float = 1e-3
    experts: int = 3
    balance_weight: float = 0.01
    image_adapters: bool = False
    depth_distribution: typing.Literal["shared", "own"] = "shared"
    lift_supervision: bool = True

    def __post_init__(self) -> None:
        if not self.lift_supervision and self.depth_distribution != "own":
            raise ValueError("lift_supervision: false needs depth_distribution: own "
                             "(with shared, the lift step's distribution is the depth head's)")


#: Options of a sharing spec (:func:`sharing_from_spec`), each appended as ``+<option>``.
SHARING_SPEC_OPTIONS: tuple[str, ...] = ("adapters", "own_depth", "free_lift")


def sharing_from_spec(spec: str, base: SharingConfig | None = None) -> SharingConfig:
    """The sharing of a spec ``<kind>[+adapters][+own_depth[+free_lift]]`` (the notation of the
    benchmark scripts): ``base`` (default: the defaults) with ``kind`` set, ``image_adapters`` on
    with ``+adapters``, ``depth_distribution: own`` with ``+own_depth`` and ``lift_supervision``
    off with ``+free_lift`` (each the default without), e.g. ``"routing+adapters"`` -> kind
    ``routing`` with image adapters.

    Raises:
        ValueError: an unknown kind or option, options repeated or out of order, or ``+free_lift``
            without ``+own_depth`` (one line naming the spec and what is accepted).
    """
    kind, *options = spec.split("+")
    if kind not in SHARING_KINDS:
        raise ValueError(f"unknown sharing {kind!r} in {spec!r}; expected one of {', '.join(SHARING_KINDS)}, "
                         f"optionally with {', '.join('+' + o for o in SHARING_SPEC_OPTIONS)}")
    unknown = sorted(set(options) - set(SHARING_SPEC_OPTIONS))
    if unknown:
        raise ValueError(f"unknown sharing option {'+' + unknown[0]!r} in {spec!r}; expected "
                         f"{', '.join('+' + o for o in SHARING_SPEC_OPTIONS)}")
    canonical = [o for o in SHARING_SPEC_OPTIONS if o in options]
    if options != canonical:  # one spelling per configuration: the spec names a run's folder
        raise ValueError(f"sharing {spec!r}: write the options once each, in the order "
                         f"{''.join('+' + o for o in SHARING_SPEC_OPTIONS)} ({'+'.join([kind, *canonical])!r})")
    if "free_lift" in options and "own_depth" not in options:
        raise ValueError(f"sharing {spec!r}: +free_lift needs +own_depth")
    return dataclasses.replace(base or SharingConfig(), kind=kind, image_adapters="adapters" in options,
                               depth_distribution="own" if "own_depth" in options else "shared",
                               lift_supervision="free_lift" not in options)


@dataclass(frozen=True, config=SECTION)
class ModelConfig:
    """The fusion model.

    Attributes:
        cameras: street camera names in the order the model stacks them.
        use_camera, use_lidar: build the camera / LiDAR BEV branch.
        modality_dropout: in training, probability per sample of dropping the camera input and,
            independently, the LiDAR input (never both).
        sharing: how the BEV tasks share the BEV backbone.
    """

    cameras: tuple[str, ...] = CAMERA_NAMES
    use_camera: bool = True
    use_lidar: bool = True
    modality_dropout: float = 0.1
    image: ImageConfig = field(default_factory=ImageConfig)
    view_transform: ViewTransformConfig = field(default_factory=ViewTransformConfig)
    lidar: LidarConfig = field(default_factory=LidarConfig)
    bev: BevConfig = field(default_factory=BevConfig)
    heads: HeadsConfig = field(default_factory=HeadsConfig)
    sharing: SharingConfig = field(default_factory=SharingConfig)


@dataclass(frozen=True, config=SECTION)
class DataConfig:
    """Where training data comes from.

    Attributes:
        dataset: a dataset URI for ``sensors.open_dataset``, or ``sim`` for the simulator.
        sim: keyword arguments of ``sensors.sim.SimConfig`` (validated by it).
        train_scenes, val_scenes: simulated drives in each split.
        frames_per_scene: frames per simulated drive.
        seed: seed of the first simulated drive (validation drives follow the training ones).
    """

    dataset: str = "sim"
    sim: dict[str, Any] = field(default_factory=dict)
    train_scenes: int = 8
    val_scenes: int = 2
    frames_per_scene: int = 40
    seed: int = 0


@dataclass(frozen=True, config=SECTION)
class TrainConfig:
    """Optimisation settings read by the trainer.

    Attributes:
        batch_size: samples per step (per process).
        steps: optimisation steps.
        lr, weight_decay: AdamW settings.
        warmup_steps: linear warm-up before the cosine decay.
        grad_clip: max global gradient norm (0 disables).
        strategy: multi-task weighting strategy name; ``strategy_options`` its arguments.
        amp: mixed precision on GPU.
        checkpoint_every, log_every: steps between checkpoints / log lines.
        seed: RNG seed.
        num_workers: DataLoader workers.
    """

    batch_size: int = 2
    steps: int = 1000
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup_steps: int = 50
    grad_clip: float = 10.0
    strategy: str = "equal"
    strategy_options: dict[str, Any] = field(default_factory=dict)
    amp: bool = True
    checkpoint_every: int = 200
    log_every: int = 10
    seed: int = 0
    num_workers: int = 0


@dataclass(frozen=True, config=SECTION)
class Config:
    """The whole configuration file: ``model``, ``data`` and ``train`` sections."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def _field_type(cls: Any, loc: tuple[str | int, ...]) -> Any:
    """The annotation reached from dataclass ``cls`` along the field names ``loc`` (None: unknown)."""
    for key in loc:
        if not dataclasses.is_dataclass(cls) or isinstance(key, int):
            return None
        pydantic_fields = getattr(cls, "__pydantic_fields__", None)
        if pydantic_fields is not None:
            cls = pydantic_fields[key].annotation if key in pydantic_fields else None
        else:
            cls = typing.get_type_hints(cls).get(key)
    return cls


def _section_fields(cls: Any, loc: tuple[str | int, ...]) -> list[str]:
    """Field names of the dataclass reached from ``cls`` along ``loc`` ([] when not a dataclass)."""
    section = _field_type(cls, loc)
    return [f.name for f in dataclasses.fields(section)] if dataclasses.is_dataclass(section) else []


def _describe(error: Any, root: Any, prefix: str) -> str:
    """One line for a pydantic error: the dotted key (under ``prefix``), then the reason in the config's words."""
    loc = tuple(error["loc"])
    where = (prefix + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in loc)).lstrip(".") or "top level"
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx", {})
    if kind == "unexpected_keyword_argument":
        return f"{where}: unknown key; expected one of {', '.join(_section_fields(root, loc[:-1]))}"
    if kind == "missing" and loc and isinstance(loc[-1], int):  # a fixed-length list too short
        where = where[: where.rindex("[")]
        args = typing.get_args(_field_type(root, loc[:-1]))
        return f"{where}: expected a list of {len(args)} values, got {len(value) if isinstance(value, list) else value!r}"
    if kind in ("too_short", "too_long") and "actual_length" in ctx:
        expected = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        return f"{where}: expected a list of {expected} values, got {ctx['actual_length']}"
    reasons = {
        "int_type": "expected an integer", "float_type": "expected a number", "bool_type": "expected true/false",
        "string_type": "expected a string", "tuple_type": "expected a list", "list_type": "expected a list",
        "dict_type": "expected a mapping", "dataclass_type": "expected a mapping", "missing_argument": "missing",
    }
    if kind in reasons:
        return f"{where}: {reasons[kind]}, got {value!r}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"


#: pydantic error kinds of checks between values (``__post_init__``), as opposed to keys and types.
VALUE_CHECK_ERRORS = frozenset({"value_error", "assertion_error"})


def _validate(cls: Any, data: Any, prefix: str = "", keys_and_types_only: bool = False) -> Any:
    """``cls`` built from plain YAML-like ``data`` with strict types (lists for tuples, integers for
    floats, as JSON reads them); raises :class:`ConfigError` with the first error, its key under
    ``prefix``. ``keys_and_types_only``: report unknown keys and wrong types only (a file that
    another extends may be incomplete on its own); returns None then."""
    if data is None:
        data = {}
    try:
        text = json.dumps(data, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{prefix or 'top level'}: not plain YAML data ({exc})") from None
    try:
        return pydantic.TypeAdapter(cls).validate_json(text, strict=True)
    except pydantic.ValidationError as exc:
        errors = [e for e in exc.errors() if not (keys_and_types_only and e["type"] in VALUE_CHECK_ERRORS)]
        if not errors:
            return None
        raise ConfigError(_describe(errors[0], cls, prefix)) from None


def config_from_dict(data: dict[str, Any], source: str = "<dict>") -> Config:
    """Build a :class:`Config` from a nested mapping; errors name ``source`` and the key."""
    try:
        config = _validate(Config, data)
        validate(config)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return config


EXTENDS_KEY = "extends"


def merge_config_data(base: dict[str, Any], override: dict[str, Any],
                      loc: tuple[str, ...] = ()) -> dict[str, Any]:
    """``override`` laid over ``base`` (plain data of a :class:`Config`; ``loc``: the section both are,
    from the top): a config section (a dataclass, e.g. ``model.heads``) present in both is merged key
    by key, recursively; every other value of ``override`` replaces the one of ``base``: a list, a
    string, a number, null, and the free-form mappings (``train.strategy_options``, ``data.sim``), so
    that ``strategy_options: {}`` clears them."""
    merged = dict(base)
    for key, value in override.items():
        section = dataclasses.is_dataclass(_field_type(Config, (*loc, key)))
        if section and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_config_data(merged[key], value, (*loc, key))
        else:
            merged[key] = value
    return merged


def load_config(path: str | Path) -> Config:
    """Read a YAML config file (missing sections and keys keep their defaults), following its
    ``extends:`` chain (:func:`merge_config_data`).

    Raises:
        ConfigError: a missing or unreadable file, a folder, invalid YAML (one line with line and
            column), an ``extends`` that is not a path or that loops back, unknown keys or wrongly
            typed values.
    """
    path = Path(path)
    return config_from_dict(_read_config_data(path, ()), str(path))


def _read_config_data(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    """The merged plain data of ``path`` and the files it extends (``chain``: the files that extend it)."""
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, expected a YAML config file")
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: cannot read config: file does not exist") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file, expected a YAML config") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {yaml_problem(exc)}") from None
    data = data or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level: expected a mapping of sections, got {type(data).__name__}")
    if EXTENDS_KEY not in data:
        return data
    parent_name = data.pop(EXTENDS_KEY)
    if not isinstance(parent_name, str) or not parent_name:
        raise ConfigError(f"{path}: {EXTENDS_KEY}: expected the path of a config file, got {parent_name!r}")
    parent = path.parent / parent_name
    here = path.resolve()
    if parent.resolve() in (*chain, here):
        raise ConfigError(f"{path}: {EXTENDS_KEY}: {parent_name!r} extends this file again (a loop)")
    try:
        base = _read_config_data(parent, (*chain, here))
        try:  # keys and types of the extended file, named by its own path; values are checked merged
            _validate(Config, base, keys_and_types_only=True)
        except ConfigError as exc:
            raise ConfigError(f"{parent}: {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"{path}: {EXTENDS_KEY}: {exc}") from None
    return merge_config_data(base, data)


def config_to_dict(config: Config) -> dict[str, Any]:
    """Plain nested dict of ``config`` (tuples as lists), loadable by :func:`config_from_dict`."""

    def plain(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(dataclasses.asdict(config))


def save_config(config: Config, path: str | Path) -> Path:
    """Write ``config`` as YAML atomically (temp file, then rename); returns the path."""
    return atomic_write(path, lambda handle: yaml.safe_dump(config_to_dict(config), handle, sort_keys=False))


def build_sim_config(data: DataConfig) -> Any:
    """The ``sensors.sim.SimConfig`` described by ``data.sim`` (lists become tuples, a
    ``bev_grid`` mapping a ``BevGrid``), checked as strictly as the config itself.

    Raises:
        ConfigError: an unknown or mistyped key, or a value SimConfig refuses (``data.sim.<key>: ...``).
    """
    from sensors.sim import SimConfig

    @dataclass(frozen=True, config=SECTION)
    class Data:  # SECTION reaches the nested (plain) SimConfig dataclass only through a pydantic parent
        sim: SimConfig

    pydantic.dataclasses.rebuild_dataclass(Data, _types_namespace={"SimConfig": SimConfig})
    return _validate(Data, {"sim": data.sim}, "data").sim


def _power_of_two_ratio(fine: float, coarse: float) -> int | None:
    ratio = coarse / fine
    n = int(round(ratio))
    return n if abs(ratio - n) < 1e-6 and n >= 1 and n & (n - 1) == 0 else None


def validate(config: Config) -> None:
    """Cross-field checks (grid compatibility, enabled parts); raises :class:`ConfigError`."""
    m = config.model
    if not (m.use_camera or m.use_lidar):
        raise ConfigError("model: at least one of use_camera, use_lidar must be true")
    if not 0.0 <= m.modality_dropout < 0.5:
        raise ConfigError(f"model.modality_dropout: must be in [0, 0.5), got {m.modality_dropout}")
    if m.use_camera and not m.cameras:
        raise ConfigError("model.cameras: empty, but use_camera is true")
    if any(not c for c in m.cameras) or len(set(m.cameras)) != len(m.cameras):
        raise ConfigError(f"model.cameras: names must be non-empty and unique, got {list(m.cameras)}")
    sh = m.sharing
    if not (0.0 <= sh.stitch_self_weight <= 1.0):
        raise ConfigError(f"model.sharing.stitch_self_weight: must be in [0, 1], got {sh.stitch_self_weight}")
    for key in ("soft_weight", "balance_weight", "orthogonality_weight"):
        if getattr(sh, key) < 0:
            raise ConfigError(f"model.sharing.{key}: must be >= 0, got {getattr(sh, key)}")
    if sh.experts < 1:
        raise ConfigError(f"model.sharing.experts: must be >= 1, got {sh.experts}")
    if sh.kind == "sluice" and any(c % 2 for c in m.bev.channels):
        raise ConfigError(f"model.sharing.kind: sluice splits every BEV stage into two subspaces; "
                          f"model.bev.channels must be even, got {list(m.bev.channels)}")
    bev = m.bev
    if not (len(bev.layers) == len(bev.channels) == len(bev.strides)) or not bev.layers:
        raise ConfigError("model.bev: layers, channels and strides must be non-empty and of equal length")
    if any(s not in (1, 2) for s in bev.strides):
        raise ConfigError(f"model.bev.strides: each must be 1 or 2, got {bev.strides}")
    grid = bev.grid
    if m.use_lidar:
        lid = m.lidar
        pr = lid.point_range
        if (pr[0], pr[1], pr[3], pr[4]) != (grid.xmin, grid.ymin, grid.xmax, grid.ymax):
            raise ConfigError(
                "model.lidar.point_range: its x-y extent must equal model.bev.grid "
                f"({grid.xmin}, {grid.ymin}, {grid.xmax}, {grid.ymax})"
            )
        if lid.voxel_size[0] != lid.voxel_size[1]:
            raise ConfigError("model.lidar.voxel_size: pillars must be square (dx == dy)")
        if _power_of_two_ratio(lid.voxel_size[0], grid.resolution) is None:
            raise ConfigError(
                f"model.lidar.voxel_size: bev.grid.resolution / voxel size must be a power of two, "
                f"got {grid.resolution} / {lid.voxel_size[0]}"
            )
    if m.use_camera or m.heads.driver.enabled:
        im = m.image
        if min(im.height, im.width, im.cabin_height, im.cabin_width) < 32:
            raise ConfigError("model.image: image sizes must be at least 32 pixels")
    vt = m.view_transform
    if not (0 < vt.depth_min < vt.depth_max) or vt.depth_bins < 2:
        raise ConfigError("model.view_transform: need 0 < depth_min < depth_max and depth_bins >= 2")
    if m.heads.depth.enabled and not m.use_camera:
        raise ConfigError("model.heads.depth: the depth head needs use_camera: true")
    heads = m.heads
    from perception.model.box_coding import (
        REGRESSION_CHANNELS,  # here: perception.model imports this module
    )

    if len(heads.detection.regression_weights) != len(REGRESSION_CHANNELS):
        raise ConfigError(f"model.heads.detection.regression_weights: expected {len(REGRESSION_CHANNELS)} values, "
                          f"one per channel {', '.join(REGRESSION_CHANNELS)}")
    if not any((heads.detection.enabled, heads.segmentation.enabled, heads.depth.enabled, heads.driver.enabled)):
        raise ConfigError("model.heads: at least one head must be enabled")
