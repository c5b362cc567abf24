"""Metrics and reports for every head (see docs/evaluation.md).

- :mod:`evaluation.nuscenes_det`: nuScenes detection (mAP, TP errors, NDS), submission JSON
- :mod:`evaluation.kitti`: KITTI 2D/BEV/3D AP at 40 and 11 recall positions
- :mod:`evaluation.segmentation`: BEV map IoU with the BEVFusion threshold sweep
- :mod:`evaluation.depth`: dense depth errors, per distance bin
- :mod:`evaluation.driver`: driver-monitoring frame and event metrics
- :mod:`evaluation.latency`: per-stage median and p99
- :mod:`evaluation.report`: ``metrics.json``, ``report.md`` and plots
"""
