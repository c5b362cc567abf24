"""Training: the :class:`Trainer` loop, learning-rate schedules, logs and the resumable sampler
(checkpoints are :mod:`perception.checkpoint`, DDP helpers :mod:`perception.distributed`)."""
from perception.train.loader import ResumableSampler, make_train_loader
from perception.train.options import TrainerOptions
from perception.train.trainer import Trainer, TrainingDiverged, TrainResult

__all__ = [
    "ResumableSampler",
    "TrainResult",
    "Trainer",
    "TrainerOptions",
    "TrainingDiverged",
    "make_train_loader",
]
