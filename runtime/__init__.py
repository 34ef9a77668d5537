"""ganfx runtime: run exported ganfx generators with onnxruntime, no torch.

    >>> from ganfx.runtime import load_model
    >>> model = load_model("redbrick")                    # a shipped texture
    >>> rgb = model.generate(1920, 1080, t=0.0, seed=7)   # [H,W,3] float32

Heavy modules (onnxruntime, av, cv2) are imported on first use, so importing this
package stays cheap for hosts and the CLI.
"""

__version__ = "0.1.0"

_LAZY = {
    "load_model": "ganfx.runtime.model",
    "Model": "ganfx.runtime.model",
    "resolve_model_path": "ganfx.runtime.model",
    "list_models": "ganfx.runtime.model",
    "ModelSpec": "ganfx.runtime.contract",
    "read_spec": "ganfx.runtime.contract",
    "NoiseField": "ganfx.runtime.noise",
    "TileGrid": "ganfx.runtime.tiling",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ganfx.runtime' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
