"""The fusion model: :class:`FusionModel` and its parts (camera, lidar, bev, heads, targets, losses),
and :func:`load_model` to build one from a checkpoint."""
from perception.model.fusion_model import HEADS, TASKS, FusionModel, decode_outputs
from perception.model.loading import load_model

__all__ = ["HEADS", "TASKS", "FusionModel", "decode_outputs", "load_model"]
