"""jupyterlab-fanout: several streaming answers from your own model at once, in JupyterLab."""
try:
    from ._version import __version__
except ImportError:  # pragma: no cover - running from a source tree without a build
    import warnings

    warnings.warn("Importing 'jupyterlab_fanout' outside a proper installation.")
    __version__ = "dev"


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "jupyterlab-fanout"}]


def _jupyter_server_extension_points():
    return [{"module": "jupyterlab_fanout"}]


def _load_jupyter_server_extension(server_app):
    """Register the proxy's handlers with the Jupyter server (see extension.py)."""
    from .extension import load

    load(server_app)
