import os
if os.environ.get("PRELN"):
    import keras_hub
    _init = keras_hub.layers.TransformerEncoder.__init__
    def __init__(self, *a, **k):
        k["normalize_first"] = True
        _init(self, *a, **k)
    keras_hub.layers.TransformerEncoder.__init__ = __init__
