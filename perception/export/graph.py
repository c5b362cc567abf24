"""The fused model as an exportable graph: preprocessed tensors in, the heads' raw outputs out.

:class:`FusionGraph` wraps a trained :class:`perception.model.FusionModel` (its modules, weights
and eval-mode behaviour) and runs the same computation as ``FusionModel.forward`` from the inputs
of :mod:`perception.export.inputs`, with the two kernels swapped for their pure-torch equivalents
(:mod:`perception.export.ops`). Outputs, by name (only the heads the model has):

    detection_heatmap (B, K, X, Y) logits, detection_regression (B, 10, X, Y);
    segmentation (B, len(MAP_CLASSES), Xs, Ys) logits;
    depth (B, N, H, W) metres (zeros when no sample of the batch has a street camera);
    driver_eye (B, 2), driver_gaze (B, 8), driver_pose (B, 3) scaled, driver_phone (B,) logits;
    camera_present, lidar_present (B,) bool: the inputs the BEV heads used.

:func:`outputs_to_forward` turns them back into the nested dict ``FusionModel.forward`` returns, so the
decoding (``perception.model.decode_outputs``) is the same code for every runtime. The heads run on
a :class:`perception.model.heads.Features` built here, as in ``FusionModel.forward_heads``.
"""
from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn

from perception.export.inputs import GraphSpec
from perception.export.ops import bev_pool_gather, pillar_scatter_index
from perception.model import FusionModel
from perception.model.heads import Features

#: Graph output name -> (key, sub-key or None) in the ``FusionModel.forward`` dict.
OUTPUT_KEYS: dict[str, tuple[str, str | None]] = {
    "detection_heatmap": ("detection", "heatmap"),
    "detection_regression": ("detection", "regression"),
    "segmentation": ("segmentation", None),
    "depth": ("depth", None),
    "driver_eye": ("driver", "eye"),
    "driver_gaze": ("driver", "gaze"),
    "driver_pose": ("driver", "pose"),
    "driver_phone": ("driver", "phone"),
    "camera_present": ("camera_present", None),
    "lidar_present": ("lidar_present", None),
}


def graph_spec(model: FusionModel) -> GraphSpec:
    """The :class:`GraphSpec` of ``model`` (its feature map size measured on one blank image)."""
    config = model.config
    if model.view_transform is None or model.image_encoder is None:
        return GraphSpec(config, 1, (0, 0))
    blank = torch.zeros((1, 3, config.image.height, config.image.width))
    with torch.no_grad():
        was_training = model.image_encoder.training
        h, w = model.image_encoder.eval()(blank).shape[-2:]
        model.image_encoder.train(was_training)
    return GraphSpec(config, model.image_encoder.stride, (int(h), int(w)))


def output_names(model: FusionModel) -> tuple[str, ...]:
    """Names of the graph's outputs, in order (see the module docstring)."""
    keys = [name for name, (key, _) in OUTPUT_KEYS.items() if key in model.heads]
    return (*keys, "camera_present", "lidar_present")


def outputs_to_forward(named: dict[str, torch.Tensor]) -> dict[str, object]:
    """Graph outputs by name -> the dict ``FusionModel.forward`` returns (without the loss-only
    ``perception.model.fusion_model.LOSS_ONLY_OUTPUTS``)."""
    out: dict[str, object] = {}
    for name, value in named.items():
        key, sub = OUTPUT_KEYS[name]
        if sub is None:
            out[key] = value
        else:
            out.setdefault(key, {})[sub] = value  # type: ignore[index]
    return out


class FusionGraph(nn.Module):
    """``FusionModel.forward`` on graph inputs (see :mod:`perception.export.inputs`); eval mode only."""

    def __init__(self, model: FusionModel, spec: GraphSpec | None = None) -> None:
        super().__init__()
        self.model = model.eval()
        self.spec = spec or graph_spec(model)
        self.output_names = output_names(model)
        self.eval()

    def forward(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Graph inputs by name -> the outputs in :attr:`output_names` order."""
        m, spec = self.model, self.spec
        camera_valid, lidar_valid = inputs["camera_valid"], inputs["lidar_valid"]
        cam_present, lid_present = m._modality_flags(SimpleNamespace(camera_valid=camera_valid, lidar_valid=lidar_valid))
        out: dict[str, torch.Tensor] = {"camera_present": cam_present, "lidar_present": lid_present}
        b, n = camera_valid.shape
        trunk = Features(cam_present, lid_present, inputs.get("images"))  # type: ignore[arg-type]  # none without cameras
        camera_bev = None
        if spec.has_cameras:
            assert m.image_encoder is not None and m.view_transform is not None
            encoded = m.image_encoder(inputs["images"].flatten(0, 1))
            features = encoded.view(b, n, *encoded.shape[1:]) * camera_valid.view(b, n, 1, 1, 1).to(encoded.dtype)
            for_view, for_depth = m.adapt_image_features(features)
            logits, probs, context = m.view_transform.distributions(for_view, camera_valid)
            trunk.image_features, trunk.depth_logits = for_depth, logits
            camera_bev = bev_pool_gather(probs, context, inputs["depth_index"], inputs["feat_index"],
                                         inputs["bev_index"], spec.bev_shape)
        if m.fuser is not None and m.bev_backbone is not None:
            lidar_bev = lidar_canvas = None
            if spec.has_lidar:
                assert m.lidar_encoder is not None
                lidar = m.lidar_encoder
                voxels = SimpleNamespace(features=inputs["voxels"], coords=inputs["voxel_coords"],
                                         num_points=inputs["voxel_num_points"])
                lidar_canvas = pillar_scatter_index(lidar.pillar_features(voxels), inputs["voxel_coords"], b,
                                                    lidar.canvas)
                lidar_bev = lidar.down(lidar_canvas)
            trunk.set_bev(m.bev_backbone(m.fuser(camera_bev, lidar_bev, cam_present, lid_present)))
            trunk.lidar_canvas = lidar_canvas
            if "detection" in m.heads:
                det = m.heads["detection"](trunk)
                out.update(detection_heatmap=det["heatmap"], detection_regression=det["regression"])
            if "segmentation" in m.heads:
                out["segmentation"] = m.heads["segmentation"](trunk)
        if "depth" in m.heads:
            h, w = m.config.image.height, m.config.image.width
            if trunk.image_features is not None and trunk.depth_logits is not None:
                depth = m.heads["depth"](trunk)["depth"]
                # as FusionModel.forward: zeros only when no sample of the batch has a street camera
                out["depth"] = depth * cam_present.any().to(depth.dtype)
            else:
                out["depth"] = torch.zeros((b, n, h, w))
        if "driver" in m.heads:
            assert m.image_encoder is not None
            cabin_valid = inputs["cabin_valid"]
            pooled = m.image_encoder.pooled(inputs["cabin"])
            trunk.cabin = pooled * cabin_valid.view(-1, 1).to(pooled.dtype)
            drv = m.heads["driver"](trunk)
            out.update(driver_eye=drv["eye"], driver_gaze=drv["gaze"], driver_pose=drv["pose"], driver_phone=drv["phone"])
        return tuple(out[name] for name in self.output_names)
