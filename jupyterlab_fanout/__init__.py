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
    """The server extension (extension.py). Imported here, not at the top: the simulator's
    process (`python -m jupyterlab_fanout.simulator`) needs no Jupyter server."""
    from .extension import FanoutExtensionApp

    return [{"module": "jupyterlab_fanout", "app": FanoutExtensionApp}]
