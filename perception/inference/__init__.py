"""Running a trained model over a dataset: inference (sharded over ``torchrun`` ranks), prediction
export, scoring of every head with the metrics of the top-level :mod:`evaluation` package, report
and sample pictures. (The metrics themselves live in :mod:`evaluation`, which imports no torch.)"""
from perception.inference.pipeline import (
           EvalOptions,
           EvalOutcome,
           evaluate_model,
           evaluate_predictions,
           load_model,
)
from perception.inference.sources import EvalSource, open_eval_source

__all__ = ["EvalOptions", "EvalOutcome", "EvalSource", "evaluate_model", "evaluate_predictions", "load_model",
           "open_eval_source"]
