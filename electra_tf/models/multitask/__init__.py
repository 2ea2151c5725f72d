"""Several tasks on one encoder: `ElectraMultiTask` (`multitask.py`), with the
classification and tagging packages' preprocessors."""

from electra_tf.models import moved_attribute
from electra_tf.models.multitask.multitask import ElectraMultiTask

__all__ = ["ElectraMultiTask"]


def __getattr__(name):
    # Before models/ was grouped by task this package was one module: its other names
    # still import from here, with a warning (`electra_tf.models.MOVED`).
    return moved_attribute(__name__, name)
