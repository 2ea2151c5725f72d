"""Export to SavedModels for TensorFlow Serving.

`serving` holds the mechanism (text repair, packing, `ExportArchive`, TF
Serving layout, warm-up records); `servables`, `tagging` and `multitask`
what each model kind exports; `serving_ops` the ops an export may use;
`standalone` loads an export with TensorFlow alone.
"""

from electra_tf.export.servables import (
    SERVABLES,
    ClassifierServable,
    DiscriminatorServable,
    GeneratorServable,
    Seq2SeqServable,
    detect_kind,
    load_servable,
)
from electra_tf.export.serving import (
    DEFAULT_SIGNATURE,
    IDS_SIGNATURE,
    Servable,
    TextEncoder,
    export_for_serving,
    export_saved_model,
    repair_text,
    write_models_config,
    write_warmup_requests,
)
from electra_tf.export.multitask import MultiTaskServable
from electra_tf.export.tagging import TaggerServable

__all__ = [
    "DEFAULT_SIGNATURE",
    "IDS_SIGNATURE",
    "SERVABLES",
    "ClassifierServable",
    "DiscriminatorServable",
    "GeneratorServable",
    "MultiTaskServable",
    "Seq2SeqServable",
    "Servable",
    "TaggerServable",
    "TextEncoder",
    "detect_kind",
    "export_for_serving",
    "export_saved_model",
    "load_servable",
    "repair_text",
    "write_models_config",
    "write_warmup_requests",
]
