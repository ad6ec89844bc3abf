"""Deployment: ONNX export (:mod:`lstmkit.export.onnx`, needs torch and onnx) and a runner
that needs only numpy and onnxruntime (:mod:`lstmkit.export.runtime`).

Nothing is imported here, so that ``lstmkit.export.runtime`` loads without torch.
"""
