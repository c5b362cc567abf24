"""KITTI 3D object detection evaluation (2D, BEV and 3D AP at 11 and 40 recall positions)."""
