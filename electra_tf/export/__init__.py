"""Export to SavedModels for TensorFlow Serving (see `electra_tf.export.serving`)."""

from electra_tf.export.serving import (
    DEFAULT_SIGNATURE,
    IDS_SIGNATURE,
    ClassifierServable,
    DiscriminatorServable,
    GeneratorServable,
    Seq2SeqServable,
    Servable,
    TaggerServable,
    TextEncoder,
    export_for_serving,
    export_saved_model,
    load_servable,
    repair_text,
    write_models_config,
    write_warmup_requests,
)

__all__ = [
    "DEFAULT_SIGNATURE",
    "IDS_SIGNATURE",
    "ClassifierServable",
    "DiscriminatorServable",
    "GeneratorServable",
    "Seq2SeqServable",
    "Servable",
    "TaggerServable",
    "TextEncoder",
    "export_for_serving",
    "export_saved_model",
    "load_servable",
    "repair_text",
    "write_models_config",
    "write_warmup_requests",
]
