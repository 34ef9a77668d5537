"""ganfx plugin layer: the OpenFX action model in Python, and its hosts (CLI, Blender)."""
