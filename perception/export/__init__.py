"""Deployment: the fused model exported to ONNX (standard operators only) and run by ONNX Runtime.

``export_onnx`` writes the graph (preprocessed tensors -> raw head outputs); ``OnnxRunner`` runs it
behind the torch model's call signature. See docs/deployment.md.
"""
from perception.export.exporter import ExportError, export_onnx
from perception.export.runner import OnnxRunner

__all__ = ["ExportError", "OnnxRunner", "export_onnx"]
