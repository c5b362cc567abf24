"""``perception export``: write the fused model as an ONNX file (standard operators only).

Example::

    perception export --checkpoint ckpt.pt --out model.onnx
    perception evaluate --runtime onnxruntime --model model.onnx --data sim --out eval/

The graph goes from preprocessed tensors to the heads' raw outputs; LiDAR voxelization, the
BEV-pool ranks of the camera rig and the decoding (with rotated NMS) run outside it
(docs/deployment.md).
"""
from __future__ import annotations

import argparse
from pathlib import Path


def add_export_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``export`` subcommand to ``subparsers`` and return its parser."""
    parser = subparsers.add_parser(
        "export", help="export a checkpoint to ONNX (every head it has; runs in any ONNX runtime)",
        description="Export a checkpoint to an ONNX file: preprocessed tensors in, raw head outputs out; the config "
                    "and class names are stored in its metadata. Needs the 'export' extra (onnx, onnxscript).",
    )
    parser.add_argument("--checkpoint", type=Path, required=True, help="model checkpoint")
    parser.add_argument("--config", type=Path, help="YAML config (default: the one stored in the checkpoint)")
    parser.add_argument("--out", type=Path, required=True, help="ONNX file to write")
    return parser


def run_export(args: argparse.Namespace) -> int:
    """Export ``args.checkpoint`` to ``args.out``; print what was written. Returns 0.

    Raises:
        ValueError: bad checkpoint/config, missing export libraries, or a module that cannot be
            exported (one line naming it; shown by ``perception.cli``).
    """
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as error:
        raise ValueError(f"{error.name} is not installed: pip install 'fusion-perception[export]'") from None
    if args.out.is_dir():
        raise ValueError(f"--out {args.out} is a folder; give the ONNX file to write")
    from perception.export import export_onnx
    from perception.model import load_model

    model, config = load_model(args.checkpoint, args.config)
    path = export_onnx(model, config, args.out)
    size = path.stat().st_size / 2**20
    print(f"wrote {path} ({size:.1f} MiB; heads: {', '.join(model.tasks)})")
    return 0


def add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    """``--runtime`` and ``--threads`` of the commands that run the network (evaluate, replay); each
    command adds ``--model`` (the ONNX file) next to its ``--checkpoint``."""
    parser.add_argument("--runtime", choices=("torch", "onnxruntime"), default="torch",
                        help="run the network in PyTorch (--checkpoint) or ONNX Runtime (--model); the pre- and "
                             "postprocessing are the same code (default torch)")
    parser.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads (default: one per core)")


def load_network(args: argparse.Namespace, device):
    """(network, config) named by ``args``: ``--checkpoint`` [``--config``] in PyTorch, or ``--model`` in
    ONNX Runtime (``--runtime onnxruntime``; CUDA devices use the CUDA execution provider).

    Raises:
        ValueError: arguments that do not fit together, a missing ``export`` extra, a bad file (one line).
    """
    if args.model is not None and args.checkpoint is not None:
        raise ValueError("give --checkpoint (PyTorch) or --model (ONNX Runtime), not both")
    if args.model is None:
        if args.runtime != "torch":
            raise ValueError("--runtime onnxruntime runs an exported file: give it with --model")
        if args.threads is not None:
            raise ValueError("--threads applies to --runtime onnxruntime (torch follows OMP_NUM_THREADS)")
        from perception.model import load_model

        return load_model(args.checkpoint, args.config, device)
    if args.runtime != "onnxruntime":
        raise ValueError("--model is an ONNX file: run it with --runtime onnxruntime")
    if args.config is not None:
        raise ValueError("--config applies to --checkpoint; an exported model carries its own config")
    from perception.export import OnnxRunner

    providers = ("CUDAExecutionProvider",) if device.type == "cuda" else ("CPUExecutionProvider",)
    try:
        runner = OnnxRunner(args.model, threads=args.threads, providers=providers)
    except ImportError as error:
        raise ValueError(f"{error.name} is not installed: pip install 'fusion-perception[export]'") from None
    return runner, runner.full_config
