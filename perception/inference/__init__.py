"""Running a trained model over a dataset: inference (sharded over ``torchrun`` ranks), prediction
export, scoring of every head with the metrics of the top-level :mod:`evaluation` package, report
and sample pictures (:mod:`perception.inference.pipeline`; datasets: :mod:`perception.inference.sources`;
one batch: :mod:`perception.inference.predict`). The metrics themselves live in :mod:`evaluation`,
which imports no torch. Nothing is imported here, so that the ROS node and the replay, which use
:mod:`perception.inference.predict` alone, load no evaluation or plotting code."""
