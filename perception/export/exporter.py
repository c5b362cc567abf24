"""``FusionModel`` -> ONNX file: :class:`FusionGraph` through ``torch.onnx.export`` (the dynamo exporter).

The file holds standard ONNX operators only (default domain, opset :data:`OPSET`), a dynamic batch
axis ``batch`` and dynamic ``points`` (pooled frustum points) and ``pillars`` axes, and these
``metadata_props``:

    config: the full configuration as JSON (``perception.config.config_to_dict``);
    graph: JSON {"stride", "feature_size", "inputs", "outputs"} (see :class:`GraphSpec`);
    detection_classes, map_classes, eye_states, gaze_zones: JSON lists of class names;
    producer_version: this package's version.
"""
from __future__ import annotations

import contextlib
import io
import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from perception.config import Config, config_to_dict
from perception.export.graph import FusionGraph
from perception.export.inputs import GraphSpec
from perception.model import FusionModel
from sensors.atomic import atomic_path
from sensors.classes import DETECTION_CLASSES, EYE_STATES, GAZE_ZONES, MAP_CLASSES

#: ONNX opset of the exported graph (ScatterND with reduction needs 16, the dynamo exporter 18).
OPSET = 18
#: Example sizes the graph is traced with (any values > 1 keep the axes dynamic).
EXAMPLE_BATCH, EXAMPLE_POINTS, EXAMPLE_PILLARS = 2, 64, 8


class ExportError(ValueError):
    """A part of the model cannot be exported; the message names the module."""


def example_inputs(spec: GraphSpec) -> dict[str, torch.Tensor]:
    """Inputs of the right shapes and dtypes for tracing (values in range, content meaningless)."""
    c = spec.config
    b, n = EXAMPLE_BATCH, len(c.cameras)
    g = torch.Generator().manual_seed(0)
    inputs = {"camera_valid": torch.ones((b, n), dtype=torch.bool), "lidar_valid": torch.ones(b, dtype=torch.bool)}
    if spec.has_cameras:
        h, w = spec.feature_size
        d, (nx, ny) = c.view_transform.depth_bins, spec.bev_shape
        inputs.update(
            images=torch.randn((b, n, 3, c.image.height, c.image.width), generator=g),
            depth_index=torch.randint(0, b * n * d * h * w, (EXAMPLE_POINTS,), generator=g),
            feat_index=torch.randint(0, b * n * h * w, (EXAMPLE_POINTS,), generator=g),
            bev_index=torch.randint(0, b * nx * ny, (EXAMPLE_POINTS,), generator=g).sort().values,
        )
    if spec.has_lidar:
        lidar = c.lidar
        m = EXAMPLE_PILLARS
        coords = torch.zeros((m, 4), dtype=torch.long)
        coords[:, 0] = torch.arange(m) % b
        coords[:, 1] = torch.arange(m)
        inputs.update(voxels=torch.randn((m, lidar.max_points, 5), generator=g), voxel_coords=coords,
                      voxel_num_points=torch.ones(m, dtype=torch.long))
    if spec.has_cabin:
        inputs.update(cabin=torch.randn((b, 3, c.image.cabin_height, c.image.cabin_width), generator=g),
                      cabin_valid=torch.ones(b, dtype=torch.bool))
    return {name: inputs[name] for name in spec.input_names}


def dynamic_shapes(spec: GraphSpec) -> dict[str, dict[int, torch.export.Dim]]:
    """The dynamic axes of every input: ``batch``, ``points`` (K), ``pillars`` (M)."""
    batch = torch.export.Dim("batch", min=1, max=1024)
    points, pillars = torch.export.Dim("points"), torch.export.Dim("pillars")
    axis = {"depth_index": points, "feat_index": points, "bev_index": points,
            "voxels": pillars, "voxel_coords": pillars, "voxel_num_points": pillars}
    return {name: {0: axis.get(name, batch)} for name in spec.input_names}


@contextmanager
def module_trail(model: nn.Module) -> Iterator[list[tuple[str, str]]]:
    """Within the block, a list of (qualified name, class name) of the modules whose forward is
    running, outermost first; left as it was when an exception escapes (it then names the culprit)."""
    trail: list[tuple[str, str]] = []

    def enter(name: str):
        def hook(module: nn.Module, args: object) -> None:
            trail.append((name, type(module).__name__))
        return hook

    def leave(module: nn.Module, args: object, output: object) -> None:
        trail.pop()

    handles = []
    for name, module in model.named_modules():
        if name:
            handles += [module.register_forward_pre_hook(enter(name)), module.register_forward_hook(leave)]
    try:
        yield trail
    finally:
        for handle in handles:
            handle.remove()


def metadata(config: Config, spec: GraphSpec, outputs: tuple[str, ...]) -> dict[str, str]:
    """The ``metadata_props`` of the exported file (see the module docstring)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        producer = version("fusion-perception")
    except PackageNotFoundError:
        producer = "unknown"
    graph = {"stride": spec.stride, "feature_size": list(spec.feature_size), "inputs": list(spec.input_names),
             "outputs": list(outputs)}
    return {
        "config": json.dumps(config_to_dict(config)),
        "graph": json.dumps(graph),
        "detection_classes": json.dumps(list(DETECTION_CLASSES)),
        "map_classes": json.dumps(list(MAP_CLASSES)),
        "eye_states": json.dumps(list(EYE_STATES)),
        "gaze_zones": json.dumps(list(GAZE_ZONES)),
        "producer_version": producer,
    }


def export_onnx(model: FusionModel, config: Config, out: str | Path) -> Path:
    """Export ``model`` (eval mode, CPU) to the ONNX file ``out``, written atomically; checked with
    ``onnx.checker`` (full check, shape inference included) before it is kept.

    Raises:
        ExportError: a module cannot be exported (one line: its qualified name, class and the reason).
        ImportError: ``onnx`` / ``onnxscript`` missing (install the ``export`` extra).
    """
    import onnx

    model = model.cpu().eval()
    graph = FusionGraph(model)
    spec = graph.spec
    inputs = example_inputs(spec)
    # the exporter prints its progress on stdout and warns about its own internals: keep both quiet
    with module_trail(graph.model) as trail, warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(
                graph, (), kwargs={"inputs": inputs}, dynamo=True, opset_version=OPSET,
                dynamic_shapes={"inputs": dynamic_shapes(spec)}, input_names=list(spec.input_names),
                output_names=list(graph.output_names), report=False, verify=False,
            )
        except Exception as error:  # any exporter failure becomes one line naming the module
            raise ExportError(_describe(error, trail)) from error
    proto = program.model_proto
    for key, value in metadata(config, spec, graph.output_names).items():
        proto.metadata_props.add(key=key, value=value)
    proto.doc_string = "perception FusionModel: preprocessed tensors -> raw head outputs (see docs/deployment.md)"
    with atomic_path(out) as tmp:
        onnx.save_model(proto, tmp)
        onnx.checker.check_model(str(tmp), full_check=True)
    return Path(out)


def _describe(error: BaseException, trail: list[tuple[str, str]]) -> str:
    """One line: the module that was running when ``error`` was raised, and the error's first line."""
    reason = next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
    cause = error.__cause__ or error.__context__
    while cause is not None:  # the exporter wraps the original error: report that one
        first = next((line.strip() for line in str(cause).splitlines() if line.strip()), "")
        if first:
            reason = f"{type(cause).__name__}: {first}"
        cause = cause.__cause__ or cause.__context__
    where = f"module '{trail[-1][0]}' ({trail[-1][1]})" if trail else "the graph outside any submodule"
    return f"cannot export {where}: {reason[:300]}"
