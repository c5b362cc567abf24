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
    from perception.inference import load_model

    model, config = load_model(args.checkpoint, args.config)
    path = export_onnx(model, config, args.out)
    size = path.stat().st_size / 2**20
    print(f"wrote {path} ({size:.1f} MiB; heads: {', '.join(model.tasks)})")
    return 0
