"""The fusion model: :class:`FusionModel` and its parts (camera, lidar, bev, heads, targets, losses)."""
from perception.model.fusion_model import TASKS, FusionModel

__all__ = ["TASKS", "FusionModel"]
