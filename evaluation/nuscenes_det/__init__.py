"""nuScenes detection evaluation (mAP, TP errors, NDS), faithful to nuscenes-devkit 1.2.0.

Public entry points:

- :func:`evaluation.nuscenes_det.evaluate.evaluate_detection` scores predictions against ground truth,
- :func:`evaluation.nuscenes_det.submission.read_submission` / ``write_submission`` read and write
  the official submission JSON,
- :func:`evaluation.nuscenes_det.ground_truth.load_ground_truth` reads ground truth from a nuScenes
  root (JSON tables) for a split.
"""
