"""Sensor data model, drive simulator and dataset readers/writers (no torch here)."""
from sensors.boxes import Boxes3D
from sensors.dataset import open_dataset
from sensors.errors import SensorDataError
from sensors.frame import (
    Annotations,
    BevGrid,
    BevMap,
    Camera,
    DriverLabels,
    Frame,
    Lidar,
    Sweep,
)

__all__ = [
    "Annotations", "BevGrid", "BevMap", "Boxes3D", "Camera", "DriverLabels", "Frame", "Lidar",
    "SensorDataError", "Sweep", "open_dataset",
]
