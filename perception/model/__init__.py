"""The fusion model: :class:`FusionModel` and its parts (camera, lidar, bev, heads, targets, losses)."""
from perception.model.fusion_model import HEADS, TASKS, FusionModel, decode_outputs

__all__ = ["HEADS", "TASKS", "FusionModel", "decode_outputs"]
