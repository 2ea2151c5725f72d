"""The pre-trainers under tf.distribute.MirroredStrategy (two logical CPU devices)."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np

PROGRAM = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, "tests")
    from test_pretrainer import CONFIG, VOCAB, block_corpus, special_ids
    from electra_tf import ElectraPretrainer, MaskedLMPretrainer
    from electra_tf.optimizers import clip_by_global_norm_across_replicas

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model = ElectraPretrainer(CONFIG, len(VOCAB), special_ids(), seed=0)
        model.compile()
    data = tf.data.Dataset.from_tensor_slices(block_corpus()).repeat().batch(16)
    history = model.fit(data, steps_per_epoch=15, epochs=2, verbose=0).history
    copies = [v.numpy() for v in model.discriminator.token_embedding.embeddings.value.values]

    # Gradient accumulation under the strategy (Keras' own fails there): 2 micro-batches a step.
    with strategy.scope():
        accumulating = ElectraPretrainer(CONFIG.replace(gradient_accumulation_steps=2),
                                         len(VOCAB), special_ids(), seed=0)
        accumulating.compile()
    accumulated = accumulating.fit(data, steps_per_epoch=10, epochs=1, verbose=0).history
    accumulated_copies = [
        v.numpy() for v in accumulating.discriminator.token_embedding.embeddings.value.values]

    # The masked-LM baseline shares the step.
    with strategy.scope():
        baseline = MaskedLMPretrainer(CONFIG.for_objective("mlm"), len(VOCAB), special_ids(),
                                      seed=0)
        baseline.compile()
    baseline_loss = baseline.fit(data, steps_per_epoch=5, epochs=1, verbose=0).history["loss"]
    baseline_copies = [v.numpy() for v in baseline.encoder.token_embedding.embeddings.value.values]

    # Partial gradients of norm 3 and 4 (orthogonal): the global one has norm 5.
    def partial_gradients():
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        grads = [tf.where(replica == 0, 3.0, 0.0) * tf.constant([1.0, 0.0]),
                 tf.where(replica == 0, 0.0, 4.0) * tf.constant([1.0])]
        return clip_by_global_norm_across_replicas(grads, 1.0)
    per_replica = strategy.run(partial_gradients)
    summed = [strategy.reduce("SUM", g, axis=None).numpy().tolist() for g in per_replica]
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "loss": history["loss"],
        "rtd_recall": history["rtd_recall"],
        "rtd_auc": history["rtd_auc"],
        "steps": int(model.optimizer.iterations.numpy()),
        "replicas_agree": all(np.array_equal(copies[0], c) for c in copies[1:]),
        "summed_clipped": summed,
        "accumulated_loss": accumulated["loss"],
        "accumulated_steps": int(accumulating.optimizer.iterations.numpy()),
        "accumulated_replicas_agree": all(
            np.array_equal(accumulated_copies[0], c) for c in accumulated_copies[1:]),
        "baseline_loss": baseline_loss,
        "baseline_steps": int(baseline.optimizer.iterations.numpy()),
        "baseline_replicas_agree": all(
            np.array_equal(baseline_copies[0], c) for c in baseline_copies[1:]),
    }))
    """
)


def test_mirrored_strategy_trains_with_fit():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], cwd=root, capture_output=True, text=True, timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    assert report["steps"] == 30
    assert report["replicas_agree"]
    assert report["loss"][-1] < 0.85 * report["loss"][0]
    # Its pair counts are replica-summed variables, as Precision's and Recall's counts are.
    assert all(0.0 < auc <= 1.0 for auc in report["rtd_auc"])
    assert report["accumulated_steps"] == 10 and report["accumulated_replicas_agree"]
    assert np.isfinite(report["accumulated_loss"][0])
    assert report["baseline_steps"] == 5 and report["baseline_replicas_agree"]
    assert np.isfinite(report["baseline_loss"][0])
    # Clipping applies to the global gradient (3, 0, 4) -> (0.6, 0, 0.8), not per replica.
    first, second = report["summed_clipped"]
    assert first == [0.6000000238418579, 0.0] or abs(first[0] - 0.6) < 1e-6
    assert abs(second[0] - 0.8) < 1e-6
