"""The task heads. Each owns its task: layers (``forward``), loss with presence mask (``loss``)
and decoding (``decode``); see :class:`TaskHead`."""
from perception.model.heads.base import BEV, CABIN, STREET_CAMERAS, Features, TaskHead
from perception.model.heads.depth import DepthHead
from perception.model.heads.detection import DetectionHead
from perception.model.heads.driver import DriverHead
from perception.model.heads.segmentation import SegmentationHead, resample_bev

__all__ = ["BEV", "CABIN", "STREET_CAMERAS", "DepthHead", "DetectionHead", "DriverHead", "Features",
           "SegmentationHead", "TaskHead", "resample_bev"]
