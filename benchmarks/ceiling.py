"""TensorFlow's matrix-product throughput for the shapes a pre-training, fine-tuning or
inference step multiplies: the ceiling its model FLOP/s is read against.

`step_products(config, vocabulary_size)` lists a pre-training step's matrix
products as the model's arithmetic has them: every projection as one 2-D
product on `(batch x sequence, width)` (the query, key and value projections
as one `width x 3 width` product, as a fused layer would run them),
attention's two batched products per head, and the heads (the masked-LM head
on its masked slots only). `finetuning_products(config, num_labels)` lists a
sentence classifier's: the same encoder, then the logits on each sequence's
first token (a classifier's forward pass at inference multiplies the same).
Embedding lookups are gathers, not products, and are left out.

`Ceiling` times each product as training runs it: the forward product and its
two gradient products (`dA = dC B^T`, `dB = A^T dC`); with `training=False`,
the forward product alone, as inference runs it. The ceiling of a dtype is
the rate the step's products reach together at those speeds: their summed
FLOPs over their summed times. A step that did nothing but its matrix
products, each at TensorFlow's own speed for its shape, would run at the
ceiling. A 2048^3 product is timed beside them as the familiar peak figure.

Times are medians over the rounds the caller interleaves with its steps
(`measure_round` once per round), so machine noise hits the ceiling and the
steps alike.

  python benchmarks/ceiling.py                    # Small's shapes, float32 (and bfloat16)
  python benchmarks/ceiling.py --config tiny --sequence_length 32 --min_seconds 0
"""

import dataclasses
import statistics
import time

import tensorflow as tf
from absl import app, flags

from electra_tf import ElectraConfig
from machine import bfloat16_instructions, describe

SQUARE = 2048  # the edge of the familiar peak-throughput product


@dataclasses.dataclass(frozen=True)
class Product:
    """`count` products per forward pass of `batch` independent `[m, k] x [k, n]` products."""

    name: str
    m: int
    k: int
    n: int
    batch: int = 1
    count: int = 1

    @property
    def shape(self):
        """`[m, k] x [k, n]`, with a `batch x` prefix for batched products."""
        prefix = f"{self.batch} x " if self.batch > 1 else ""
        return f"{prefix}[{self.m}, {self.k}] x [{self.k}, {self.n}]"

    @property
    def flops(self):
        """FLOPs of one forward product (a multiply and an add per term)."""
        return 2 * self.batch * self.m * self.k * self.n

    @property
    def forward_flops(self):
        """FLOPs per step of all `count` forward products."""
        return self.count * self.flops

    @property
    def training_flops(self):
        """FLOPs per step of all `count` products, forward and both gradients."""
        return 3 * self.forward_flops


def tower_products(prefix, config, width, intermediate, heads, tokens):
    """The products of one Transformer tower of `config.num_layers` layers of `width`."""
    layers, length = config.num_layers, config.sequence_length
    head_size, sequences = width // heads, tokens // length
    products = []
    if config.embedding_size != width:
        products.append(Product(f"{prefix} embedding projection", tokens, config.embedding_size,
                                width))
    return products + [
        Product(f"{prefix} query, key, value", tokens, width, 3 * width, count=layers),
        Product(f"{prefix} attention output", tokens, width, width, count=layers),
        Product(f"{prefix} feed-forward in", tokens, width, intermediate, count=layers),
        Product(f"{prefix} feed-forward out", tokens, intermediate, width, count=layers),
        Product(f"{prefix} attention scores", length, head_size, length,
                batch=sequences * heads, count=layers),
        Product(f"{prefix} attention values", length, length, head_size,
                batch=sequences * heads, count=layers),
    ]


def encoder_products(prefix, config):
    """The products of `config`'s full-width encoder on a step's `batch x sequence` tokens:
    ELECTRA's discriminator, the masked-LM baseline's encoder and a fine-tuned classifier's
    are this tower."""
    return tower_products(prefix, config, config.hidden_size, config.intermediate_size,
                          config.num_heads, config.batch_size * config.sequence_length)


def step_products(config, vocabulary_size):
    """The matrix products of one pre-training step of `config` (an `ElectraConfig`)."""
    tokens = config.batch_size * config.sequence_length
    predictions = config.batch_size * config.num_masked_predictions
    products = encoder_products(
        "discriminator" if config.objective == "electra" else "encoder", config)
    if config.objective == "electra":
        products = tower_products(
            "generator", config, config.generator_hidden_size,
            config.generator_intermediate_size, config.generator_num_heads, tokens) + products
        head_width = config.generator_hidden_size
        products += [
            Product("replaced-token head", tokens, config.hidden_size, config.hidden_size),
            Product("replaced-token logit", tokens, config.hidden_size, 1),
        ]
    else:
        head_width = config.hidden_size
    return products + [
        Product("masked-LM head", predictions, head_width, config.embedding_size),
        Product("masked-LM logits", predictions, config.embedding_size, vocabulary_size),
    ]


def finetuning_products(config, num_labels):
    """The matrix products of one fine-tuning step of a sentence classifier of `config`'s
    encoder with `num_labels` classes: the encoder, then the logits on each sequence's
    first token (`ElectraClassifier`'s original head: one dense layer)."""
    return encoder_products("encoder", config) + [
        Product("classification logits", config.batch_size, config.hidden_size, num_labels)]


def _operands(product, dtype, seed):
    """Random `A [m, k]`, `B [k, n]` and an upstream gradient `dC [m, n]` (batched when
    the product is)."""
    batch = (product.batch,) if product.batch > 1 else ()
    generator = tf.random.Generator.from_seed(seed)
    return [tf.cast(generator.normal(batch + shape), dtype) for shape in (
        (product.m, product.k), (product.k, product.n), (product.m, product.n))]


def _median_seconds(run, min_seconds, min_repeats):
    """Median seconds of `run()` over at least `min_repeats` calls and `min_seconds`, after
    one untimed call. Eager ops on the CPU finish before they return."""
    run()
    times, started = [], time.perf_counter()
    while len(times) < min_repeats or time.perf_counter() - started < min_seconds:
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def product_seconds(product, dtype, training=True, min_seconds=0.2, min_repeats=3):
    """Seconds of one forward product of `product`'s shape and, when `training`, its two
    gradient products."""
    a, b, grad = _operands(product, dtype, seed=0)

    def run():
        tf.linalg.matmul(a, b)
        if training:
            tf.linalg.matmul(grad, b, transpose_b=True)
            tf.linalg.matmul(a, grad, transpose_a=True)

    return _median_seconds(run, min_seconds, min_repeats)


def square_seconds(dtype, size=SQUARE, min_seconds=0.2, min_repeats=3):
    """Seconds of one `size`^3 product."""
    a, b, _ = _operands(Product("square", size, size, size), dtype, seed=0)
    return _median_seconds(lambda: tf.linalg.matmul(a, b), min_seconds, min_repeats)


class Ceiling:
    """Per dtype: the throughput of each of a step's products and of a 2048^3 product,
    measured once per `measure_round`, reported as medians over the rounds. `training`:
    the step trains (each product forward and both gradients), else it only infers
    (forward products)."""

    def __init__(self, products, dtypes, min_seconds=0.2, min_repeats=3, square=SQUARE,
                 training=True):
        # One timing per distinct shape; the counts of equal shapes add up.
        self.products, self.training = products, training
        self.shapes = sorted({(p.batch, p.m, p.k, p.n) for p in products})
        self.dtypes = list(dtypes)
        self.min_seconds, self.min_repeats, self.square = min_seconds, min_repeats, square
        self.rounds = {dtype: [] for dtype in self.dtypes}

    def measure_round(self):
        for dtype in self.dtypes:
            seconds = {shape: product_seconds(Product("", *shape[1:], batch=shape[0]), dtype,
                                              self.training, self.min_seconds, self.min_repeats)
                       for shape in self.shapes}
            seconds["square"] = square_seconds(dtype, self.square, self.min_seconds,
                                               self.min_repeats)
            self.rounds[dtype].append(seconds)

    def _seconds(self, dtype, shape):
        return statistics.median(r[shape] for r in self.rounds[dtype])

    @property
    def passes(self):
        """Which of a product's passes the step runs, as the printed tables say it."""
        return "forward + both gradients" if self.training else "forward only"

    def product_step_flops(self, product):
        """FLOPs per step of `product`'s `count` products as the step runs them (`passes`)."""
        return product.training_flops if self.training else product.forward_flops

    @property
    def step_flops(self):
        """FLOPs per step of all the step's products as it runs them."""
        return sum(map(self.product_step_flops, self.products))

    def product_flops_per_second(self, dtype, product):
        """Throughput of `product`'s shape as the step runs it (`passes`)."""
        shape = (product.batch, product.m, product.k, product.n)
        return self.product_step_flops(product) / product.count / self._seconds(dtype, shape)

    def square_flops_per_second(self, dtype):
        return 2 * self.square ** 3 / self._seconds(dtype, "square")

    def matmul_seconds(self, dtype):
        """Seconds a step's products take at these speeds."""
        return sum(p.count * self._seconds(dtype, (p.batch, p.m, p.k, p.n))
                   for p in self.products)

    def flops_per_second(self, dtype):
        """The ceiling: the step's product FLOPs over the time they take at these speeds."""
        return self.step_flops / self.matmul_seconds(dtype)

    def results(self):
        """Every figure, as JSON."""
        return {dtype: {
            "flops_per_second": self.flops_per_second(dtype),
            "matmul_seconds_per_step": self.matmul_seconds(dtype),
            f"square_{self.square}_flops_per_second": self.square_flops_per_second(dtype),
            "products": [{"name": p.name, "shape": p.shape, "count": p.count,
                          "flops_per_second": self.product_flops_per_second(dtype, p)}
                         for p in self.products],
        } for dtype in self.dtypes}


def main(argv):
    del argv
    FLAGS = flags.FLAGS
    config = ElectraConfig.from_preset(FLAGS.config).replace(
        batch_size=FLAGS.batch_size, sequence_length=FLAGS.sequence_length)
    dtypes = ["float32"] + (["bfloat16"] if bfloat16_instructions() else [])
    ceiling = Ceiling(step_products(config, FLAGS.vocab_size), dtypes, FLAGS.min_seconds)
    for _ in range(FLAGS.rounds):
        ceiling.measure_round()
    print(f"{config.name}, batch {config.batch_size} x {config.sequence_length}, vocabulary "
          f"{FLAGS.vocab_size} ({describe()})")
    print_ceiling(ceiling)


def print_ceiling(ceiling):
    """The ceiling table: per dtype the step's shapes together and 2048^3, then each shape."""
    results = ceiling.results()
    print(f"matrix-product ceiling (GFLOP/s; {ceiling.passes}, median of "
          f"{len(ceiling.rounds[ceiling.dtypes[0]])} rounds):")
    print(f"  {'dtype':10} {'step shapes':>12} {f'{ceiling.square}^3':>10}")
    for dtype, r in results.items():
        print(f"  {dtype:10} {r['flops_per_second'] / 1e9:12.1f} "
              f"{r[f'square_{ceiling.square}_flops_per_second'] / 1e9:10.1f}")
    print(f"  {'product':34} {'shape':34} {'x':>3} " + " ".join(
        f"{dtype:>9}" for dtype in results))
    for index, product in enumerate(ceiling.products):
        speeds = " ".join(f"{results[d]['products'][index]['flops_per_second'] / 1e9:9.1f}"
                          for d in results)
        print(f"  {product.name:34} {product.shape:34} {product.count:3d} {speeds}")


if __name__ == "__main__":
    flags.DEFINE_string("config", "small", "Preset name or JSON path.")
    flags.DEFINE_integer("batch_size", 32, "Batch size.")
    flags.DEFINE_integer("sequence_length", 128, "Sequence length.")
    flags.DEFINE_integer("vocab_size", 8000, "Vocabulary size.")
    flags.DEFINE_integer("rounds", 3, "Rounds; the figures are medians over them.")
    flags.DEFINE_float("min_seconds", 0.2, "Least time spent timing each product per round.")
    app.run(main)
