"""Training: the :class:`Trainer` loop, checkpoints, learning-rate schedules, logs and DDP helpers."""
from perception.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from perception.train.distributed import DistContext, init_distributed
from perception.train.loader import ResumableSampler, make_train_loader
from perception.train.options import TrainerOptions
from perception.train.trainer import Trainer, TrainingDiverged, TrainResult

__all__ = [
    "CheckpointError",
    "DistContext",
    "ResumableSampler",
    "TrainResult",
    "Trainer",
    "TrainerOptions",
    "TrainingDiverged",
    "init_distributed",
    "load_checkpoint",
    "make_train_loader",
    "save_checkpoint",
]
