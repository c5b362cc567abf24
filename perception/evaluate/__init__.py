"""Offline evaluation: model inference over a dataset (sharded over ``torchrun`` ranks), prediction
export, scoring of every head with :mod:`evaluation`, report and sample pictures."""
from perception.evaluate.pipeline import EvalOptions, EvalOutcome, evaluate_model, evaluate_predictions, load_model
from perception.evaluate.sources import EvalSource, open_eval_source

__all__ = ["EvalOptions", "EvalOutcome", "EvalSource", "evaluate_model", "evaluate_predictions", "load_model",
           "open_eval_source"]
