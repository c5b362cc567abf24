"""The network of an exported ONNX file run by ONNX Runtime, behind the torch model's call signature.

:class:`OnnxRunner` is a drop-in for :class:`perception.model.FusionModel` wherever a caller only runs
the network on a preprocessed :class:`perception.data.Batch` and decodes the result:
``runner(batch)`` returns the dict ``FusionModel.forward`` returns (without the depth-bin logits
only the losses read), ``runner.driver(cabin)`` that dict for cabin images alone, ``runner.decode``
decodes it, and ``config`` / ``tasks`` are the model's. Preprocessing (``frame_to_inputs``) and
decoding (``perception.model.decode_outputs``: each head's ``decode``, from the configuration
alone) are the same code for both runtimes; voxelization and the pooling ranks run here, outside the graph
(:class:`perception.export.inputs.GraphInputBuilder`).
"""
from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.hooks import RemovableHandle

from perception.config import Config, ModelConfig, config_from_dict
from perception.export.exporter import example_inputs
from perception.export.graph import OUTPUT_KEYS, outputs_to_forward
from perception.export.inputs import GraphInputBuilder, GraphSpec
from perception.model.fusion_model import decode_outputs
from perception.model.prediction import Prediction
from sensors.classes import MAP_CLASSES
from sensors.reading import check_file

#: Graph outputs of the driver head (also the outputs of the cabin-only sub-graph).
DRIVER_OUTPUTS = tuple(name for name, (key, _) in OUTPUT_KEYS.items() if key == "driver")


def session_options(threads: int | None, optimize: bool = True):
    """ONNX Runtime session options: ``threads`` intra-op threads (None: ORT's default), sequential
    execution, all graph optimisations on (off with ``optimize=False``)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    )
    return options


def read_metadata(path: str | Path) -> tuple[Config, GraphSpec, tuple[str, ...]]:
    """(config, graph spec, output names) stored in an exported file's ``metadata_props``.

    Raises:
        ValueError: not a file written by ``perception export``, or a graph whose inputs or outputs
            do not fit the configuration in its metadata (one line naming the file and the key or tensor).
    """
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path), load_external_data=False)
    except (OSError, DecodeError) as error:
        raise ValueError(f"{path}: not a readable ONNX file ({type(error).__name__})") from None
    props = {p.key: p.value for p in model.metadata_props}
    for key in ("config", "graph"):
        if key not in props:
            raise ValueError(f"{path}: metadata_props lacks '{key}' (not exported by 'perception export')")
    config = config_from_dict(json.loads(props["config"]), f"{path} (metadata config)")
    graph = json.loads(props["graph"])
    spec = GraphSpec(config.model, int(graph["stride"]), tuple(int(v) for v in graph["feature_size"]))  # type: ignore[arg-type]
    if tuple(graph["inputs"]) != spec.input_names:
        raise ValueError(f"{path}: graph inputs {graph['inputs']} do not match its config ({list(spec.input_names)})")
    outputs = tuple(graph["outputs"])
    check_graph(path, model.graph, spec, outputs)
    return config, spec, outputs


def _dims(value) -> tuple[int | None, ...]:
    """Shape of a graph input or output (ONNX ``ValueInfoProto``), None for a symbolic axis."""
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in value.type.tensor_type.shape.dim)


def check_graph(path: str | Path, graph, spec: GraphSpec, outputs: tuple[str, ...]) -> None:
    """The graph of an exported file against the configuration in its metadata: the inputs have the
    shapes ``export_onnx`` traces for that configuration (batch, points and pillars axes free), the
    outputs are the ``outputs`` listed in the metadata, and the camera, depth and BEV outputs have the
    configuration's camera count, image size and grids.

    Raises:
        ValueError: one line naming the file and the first tensor that does not fit.
    """
    names = tuple(o.name for o in graph.output)
    unknown = [name for name in outputs if name not in OUTPUT_KEYS]
    if names != outputs or unknown:
        raise ValueError(f"{path}: graph outputs {list(names)} do not match its metadata ({list(outputs)})")
    c = spec.config
    expected = {name: (None, *tensor.shape[1:]) for name, tensor in example_inputs(spec).items()}
    expected.update(
        detection_heatmap=(None, None, *spec.bev_shape), detection_regression=(None, None, *spec.bev_shape),
        segmentation=(None, len(MAP_CLASSES), *c.heads.segmentation.grid.shape),
        depth=(None, len(c.cameras), c.image.height, c.image.width),
    )
    for value in (*graph.input, *graph.output):
        want, got = expected.get(value.name), _dims(value)
        if want is None:
            continue
        if len(got) != len(want) or any(w is not None and g is not None and w != g for w, g in zip(want, got)):
            shape = ["?" if w is None else w for w in want]
            raise ValueError(f"{path}: graph tensor '{value.name}' has shape {['?' if g is None else g for g in got]}, "
                             f"its metadata config gives {shape} (a file from another config?)")


class OnnxRunner:
    """An exported model in ONNX Runtime; call it like ``FusionModel`` on a preprocessed batch.

    Args:
        path: file written by ``perception export``.
        threads: intra-op threads (None: ONNX Runtime's default, one per core).
        providers: execution providers, in order of preference (default: CPU).
        optimize: ONNX Runtime graph optimisations (constant folding, Conv+BN+ReLU fusion ...).

    Attributes:
        full_config: the configuration stored in the file; ``config`` its model section.
        tasks: the heads the graph has, in ``FusionModel.tasks`` order.

    Raises:
        ValueError: unreadable file or metadata, or an unavailable execution provider.
        ImportError: onnxruntime is not installed (the ``export`` extra).
    """

    runtime = "onnxruntime"

    def __init__(self, path: str | Path, threads: int | None = None,
                 providers: tuple[str, ...] = ("CPUExecutionProvider",), optimize: bool = True) -> None:
        import onnxruntime as ort

        self.path = check_file(path, "model file (ONNX)")
        missing = [p for p in providers if p not in ort.get_available_providers()]
        if missing:
            raise ValueError(f"ONNX Runtime here has no {', '.join(missing)} (available: {', '.join(ort.get_available_providers())})")
        self.full_config, self.spec, self.output_names = read_metadata(self.path)
        self.config: ModelConfig = self.full_config.model
        self.tasks = tuple(dict.fromkeys(OUTPUT_KEYS[n][0] for n in self.output_names if OUTPUT_KEYS[n][0] not in
                                         ("camera_present", "lidar_present")))
        self._options = session_options(threads, optimize)
        self._providers = list(providers)
        self.session = ort.InferenceSession(str(self.path), self._options, providers=self._providers)
        self.inputs = GraphInputBuilder(self.spec)
        self._driver_session = None
        self._forward_pre_hooks: OrderedDict[int, Callable] = OrderedDict()  # RemovableHandle keeps a weakref

    def register_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """As ``nn.Module.register_forward_pre_hook``: ``hook(runner, (batch,))`` runs before each call and
        may return replacement arguments (used by ``perception.inference.modality.drop_sensor``)."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def eval(self) -> OnnxRunner:
        """No-op (the graph is inference only); for callers written for ``nn.Module``."""
        return self

    def __call__(self, batch) -> dict[str, object]:
        """Run the graph on a :class:`perception.data.Batch` -> the ``FusionModel.forward`` dict (CPU tensors)."""
        for hook in self._forward_pre_hooks.values():
            replaced = hook(self, (batch,))
            if replaced is not None:
                batch = replaced[0]
        feed = {name: value.numpy() for name, value in self.inputs(batch).items()}
        results = self.session.run(list(self.output_names), feed)
        return outputs_to_forward({n: torch.from_numpy(np.asarray(r)) for n, r in zip(self.output_names, results)})

    def decode(self, outputs: dict[str, object]) -> list[Prediction]:
        """One :class:`Prediction` per sample of a forward dict, as ``FusionModel.decode``."""
        return decode_outputs(outputs, self.config)

    def driver(self, cabin: torch.Tensor) -> dict[str, object]:
        """The forward dict of cabin images (B, 3, Hc, Wc) normalised, driver head only: the cabin
        sub-graph (extracted from the file with ``onnx.utils.Extractor``), like ``FusionModel.driver``."""
        if "driver" not in self.tasks:
            raise ValueError(f"{self.path}: the model has no driver-monitoring head")
        if self._driver_session is None:
            import onnx
            import onnxruntime as ort

            extractor = onnx.utils.Extractor(onnx.load(str(self.path)))
            sub = extractor.extract_model(["cabin", "cabin_valid"], list(DRIVER_OUTPUTS))
            self._driver_session = ort.InferenceSession(sub.SerializeToString(), self._options,
                                                        providers=self._providers)
        x = cabin.detach().cpu().float().contiguous()
        feed = {"cabin": x.numpy(), "cabin_valid": np.ones(x.shape[0], dtype=bool)}
        results = self._driver_session.run(list(DRIVER_OUTPUTS), feed)
        named = {n: torch.from_numpy(np.asarray(r)) for n, r in zip(DRIVER_OUTPUTS, results)}
        absent = torch.zeros(x.shape[0], dtype=torch.bool)
        return {"camera_present": absent, "lidar_present": absent, "driver": outputs_to_forward(named)["driver"]}
