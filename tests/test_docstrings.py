"""Every example in a docstring of the package runs, and shows what it computes.

Each ```python block of a public module, class, function or method is run, as
doctest runs examples, in a copy of its module's namespace, from an empty
working directory (which sees the repository's `tests/fixtures`), so an
example that rots fails here.

Shown outputs are checked. An expression statement followed by an output
comment shows its value, and the example fails if the value differs::

    flops.layer_flops_per_token(256, 1024, 4, 128)
    # -> 1724672
    parts["encoder"] / parts["total"]  # the discriminator's share  # -> 0.73
    tagging.entity_spans(text, offsets, tags)
    # -> [{'type': 'PER', 'start': 0, 'end': 4, 'text': 'John'},
    #     {'type': 'LOC', 'start': 14, 'end': 16, 'text': '北京'}]

- The output comment is `# -> ` and the output, either at the end of the
  expression's last line (after a remark if any: `x  # the count  # -> 3`) or
  on the line right after it; it continues on the comment lines right after
  it that are indented past the `->` (`#` and 4 spaces). It may follow only a
  top-level expression statement (anything else fails the example).
- The value is normalised first: a tensor, ragged tensor, array or variable
  becomes nested Python lists (`.tolist()`), a NumPy scalar a Python number, a
  `TensorShape` a tuple.
- If the shown text is a Python literal (numbers, strings, bytes, True/False/
  None, lists, tuples, dicts, sets), the value is compared with it structurally:
  types as written (a tuple is not a list, `b"a"` is not `"a"`, `True` is not
  `1`), strings and bytes exactly, integers exactly, and a float **to the
  precision it is written with**: `0.69` matches 0.6931… (2 decimals, within
  0.005), `1.2e+09` matches 1.23e9 (2 significant digits, within 0.05e9). Round
  numbers that vary by platform or seed; write more digits for a tighter check.
  `...` stands for any one value, and at the end of a list or tuple for
  whatever items remain (`[2, 5, 5, 3, ...]`).
- Otherwise the text is compared with `repr(value)` and `str(value)`,
  whitespace runs counting as one space and `...` matching any text, as
  doctest's ELLIPSIS does (`# -> PosixPath('exports/sentiment/1')`,
  `# -> {'files': 1, 'lines': 4, ...}`).

A mismatch fails with the example's object, the line, what was shown and what
was computed. Statements without an output comment run as before.
"""

import ast
import importlib
import inspect
import io
import math
import pathlib
import pkgutil
import re
import tokenize

import numpy as np
import pytest

import electra_tf

ROOT = pathlib.Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
OUTPUT = "# -> "
CONTINUATION = "#    "


def documented_objects():
    for info in pkgutil.walk_packages(electra_tf.__path__, "electra_tf."):
        module = importlib.import_module(info.name)
        yield info.name, module, module
        for name, obj in sorted(vars(module).items()):
            if name.startswith("_") or getattr(obj, "__module__", None) != info.name:
                continue
            if inspect.isclass(obj) or inspect.isfunction(obj):
                yield f"{info.name}.{name}", obj, module
            if inspect.isclass(obj):
                for method_name, method in sorted(vars(obj).items()):
                    if not method_name.startswith("_") and inspect.isfunction(method):
                        yield f"{info.name}.{name}.{method_name}", method, module


# --- Shown outputs: parsing ---------------------------------------------------------------

def shown_outputs(source):
    """`{statement index: (line, shown text)}` for the top-level statements of `source`
    followed by an output comment; raises SyntaxError for an output comment that follows
    anything but a top-level expression statement."""
    comments = {}  # line -> (comment text, alone on its line)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            alone = not token.line[:token.start[1]].strip()
            comments[token.start[0]] = (token.string, alone)
    statements = ast.parse(source).body
    outputs, used = {}, set()
    for index, statement in enumerate(statements):
        line = statement.end_lineno
        inline = comments.get(line)
        if inline and not inline[1] and OUTPUT in inline[0]:
            first, text = line, [inline[0].split(OUTPUT, 1)[1]]
        else:
            following = comments.get(line + 1)
            if not (following and following[1] and following[0].startswith(OUTPUT)):
                continue
            first, text = line + 1, [following[0][len(OUTPUT):]]
        used.add(first)
        more = first + 1
        while more in comments and comments[more][1] and comments[more][0].startswith(CONTINUATION):
            text.append(comments[more][0][len(CONTINUATION):])
            used.add(more)
            more += 1
        if not isinstance(statement, ast.Expr):
            raise SyntaxError(f"line {first}: an output comment ({OUTPUT.strip()}) must follow "
                              f"an expression statement, not {type(statement).__name__}")
        outputs[index] = (statement.lineno, "\n".join(text).strip())
    stray = sorted(line for line, (text, _) in comments.items()
                   if OUTPUT in text and line not in used)
    if stray:
        raise SyntaxError(f"line {stray[0]}: an output comment follows no top-level expression")
    return outputs


# --- Shown outputs: comparing -------------------------------------------------------------

class Rounded(float):
    """A float shown as `text`: equal to the values that round to it at that precision."""

    def __new__(cls, value, text):
        number = super().__new__(cls, value)
        number.text = text
        mantissa, _, exponent = text.lower().lstrip("+-").partition("e")
        decimals = len(mantissa.partition(".")[2])
        number.tolerance = 0.5 * 10.0 ** (int(exponent or 0) - decimals)
        return number

    def matches(self, value):
        if math.isnan(self):
            return math.isnan(value)
        if math.isinf(self):
            return value == self
        return abs(value - self) <= self.tolerance * (1 + 1e-9) + 1e-12 * abs(self)


def shown_literal(text):
    """The Python literal `text` shows, its floats as `Rounded`; ValueError if not one."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as error:
        raise ValueError(str(error)) from None

    def convert(node):
        if isinstance(node, ast.Constant):
            if isinstance(node.value, float):
                return Rounded(node.value, ast.get_source_segment(text.strip(), node))
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = convert(node.operand)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError("a sign applies to a number only")
            if isinstance(value, Rounded):
                sign = "-" if isinstance(node.op, ast.USub) else ""
                return Rounded(-value if sign else value, sign + value.text)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [convert(item) for item in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.Set):
            return {convert(item) for item in node.elts}
        if isinstance(node, ast.Dict) and None not in node.keys:
            return {convert(k): convert(v) for k, v in zip(node.keys, node.values)}
        raise ValueError(f"not a literal: {ast.dump(node)[:60]}")

    return convert(tree)


def normalized(value):
    """`value` with tensors, arrays, NumPy scalars and shapes as plain Python values."""
    import keras
    import tensorflow as tf

    if isinstance(value, tf.RaggedTensor):
        return value.to_list()
    if isinstance(value, tf.TensorShape):
        return tuple(value.as_list())
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    if isinstance(value, (tf.Tensor, tf.Variable, keras.Variable)):
        return normalized(np.asarray(value))
    if isinstance(value, list):
        return [normalized(item) for item in value]
    if type(value) is tuple:
        return tuple(normalized(item) for item in value)
    if type(value) is dict:
        return {key: normalized(item) for key, item in value.items()}
    return value


def literal_matches(shown, got):
    if shown is Ellipsis:
        return True
    if isinstance(shown, Rounded):
        return isinstance(got, (int, float)) and not isinstance(got, bool) and shown.matches(got)
    if isinstance(shown, bool) or isinstance(got, bool):
        return type(shown) is type(got) and shown == got
    if isinstance(shown, int):
        return isinstance(got, (int, float)) and shown == got
    if isinstance(shown, (str, bytes)) or shown is None:
        return type(got) is type(shown) and got == shown
    if isinstance(shown, (list, tuple)):
        if not isinstance(got, (list, tuple)) or isinstance(got, list) != isinstance(shown, list):
            return False
        if shown and shown[-1] is Ellipsis:
            return len(got) >= len(shown) - 1 and all(
                literal_matches(s, g) for s, g in zip(shown[:-1], got))
        return len(got) == len(shown) and all(literal_matches(s, g) for s, g in zip(shown, got))
    if isinstance(shown, dict):
        return isinstance(got, dict) and set(shown) == set(got) and all(
            literal_matches(shown[key], got[key]) for key in shown)
    if isinstance(shown, set):
        return isinstance(got, (set, frozenset)) and shown == got
    return False


def text_matches(shown, got):
    pattern = ".*".join(re.escape(part) for part in " ".join(shown.split()).split("..."))
    return any(re.fullmatch(pattern, " ".join(text.split()), re.S)
               for text in (repr(got), str(got)))


def output_matches(shown, value):
    """Whether `value` is what the output comment text `shown` shows (see the module doc)."""
    got = normalized(value)
    try:
        literal = shown_literal(shown)
    except ValueError:
        return text_matches(shown, got) or got is not value and text_matches(shown, value)
    return literal_matches(literal, got)


# --- Running an example -------------------------------------------------------------------

def run_example(example, namespace, name="<docstring example>"):
    """Runs the example's statements in `namespace` and checks its shown outputs."""
    try:
        outputs = shown_outputs(example)
    except SyntaxError as error:
        raise AssertionError(f"{name}: {error}") from None
    filename = f"<docstring example {name}>"
    for index, statement in enumerate(ast.parse(example).body):
        if index not in outputs:
            exec(compile(ast.Module([statement], []), filename, "exec"), namespace)
            continue
        line, shown = outputs[index]
        value = eval(compile(ast.Expression(statement.value), filename, "eval"), namespace)
        if not output_matches(shown, value):
            code = ast.get_source_segment(example, statement)
            got = normalized(value)
            raise AssertionError(
                f"{name}, line {line}: {code}\n"
                f"  shown:    {shown}\n"
                f"  computed: {got!r}" + ("" if got is value else f"\n  (value:  {value!r})"))


EXAMPLES = [
    pytest.param(block, module, f"{name}[{i}]", id=f"{name}[{i}]")
    for name, obj, module in documented_objects()
    for i, block in enumerate(BLOCK.findall(inspect.getdoc(obj) or ""))
]


def test_examples_were_found():
    assert len(EXAMPLES) > 40


# Every example of the package shows at least one checked output (`# -> `), so that what
# it computes is on the page and a change in it fails here. Exceptions are listed by name
# with the reason, `{"electra_tf.models.x.Y[0]": "why it has nothing to show"}`; none now.
SHOW_OUTPUTS = ("electra_tf",)
NO_OUTPUT = {}


def in_packages(name, packages):
    """Whether the example `name` ("module.object[i]") documents an object of `packages`."""
    owner = name.rpartition("[")[0]
    return any(owner == package or owner.startswith(package + ".") for package in packages)


def test_examples_show_their_outputs():
    examples = {name: example for example, _, name in (param.values for param in EXAMPLES)
                if in_packages(name, SHOW_OUTPUTS)}
    assert len(examples) > 100
    silent = sorted(name for name, example in examples.items() if not shown_outputs(example))
    assert [name for name in silent if name not in NO_OUTPUT] == [], (
        "these examples show no output: add one (`expression  # -> value`)")
    assert [name for name in NO_OUTPUT if name not in silent] == [], (
        "these exempted examples are gone or show an output now: drop them from NO_OUTPUT")


@pytest.mark.parametrize("example, module, name", EXAMPLES)
def test_docstring_example_runs(example, module, name, tmp_path, monkeypatch):
    code = [line for line in example.splitlines() if line.strip()]
    assert not all(line.lstrip().startswith("#") for line in code), "the example is commented out"
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    monkeypatch.chdir(tmp_path)
    namespace = {**vars(module), "__name__": "__docstring__"}
    run_example(example, namespace, name)


# --- The comparer itself ------------------------------------------------------------------

@pytest.mark.parametrize("shown, value", [
    ("0.69", 0.6931471805599453),
    ("1.2e+09", 1.23e9),
    ("1.29e18", 1.2936e18),
    ("-0.5", -0.52),
    ("7914112", 7914112),
    ("7914112", np.int64(7914112)),
    ("True", np.bool_(True)),
    ("'打开文件'", "打开文件"),
    ("b'\\xe5\\x8c\\x97'", "北".encode()),
    ("[[872, 1962]]", np.array([[872, 1962]])),
    ("[[0.25, 0.75]]", np.array([[0.2501, 0.7499]], "float32")),
    ("(2, 5)", (2, 5)),
    ("[2, 5, 5, 3, ...]", [2, 5, 5, 3, 0, 0]),
    ("{'sentiment': 0.75, 'ner': 0.25}", {"ner": 0.25, "sentiment": 0.75}),
    ("{'files': 1, 'lines': 4, ...}", {"files": 1, "lines": 4, "bytes": 73}),
    ("PosixPath('a/b')", pathlib.PosixPath("a/b")),
    ("a/b", pathlib.PosixPath("a/b")),
])
def test_shown_output_matches(shown, value):
    assert output_matches(shown, value)


def test_tensors_are_shown_as_lists():
    import keras
    import tensorflow as tf

    assert output_matches("(2, 16)", tf.zeros([2, 16]).shape)
    assert output_matches("TensorShape([2, 16])", tf.zeros([2, 16]).shape)
    assert output_matches("[[872, 1962], [5]]", tf.ragged.constant([[872, 1962], [5]]))
    assert output_matches("[b'a', b'b']", tf.constant(["a", "b"]))
    assert output_matches("[0.84]", keras.Variable([0.8413]))
    assert output_matches("0.841", tf.constant(0.8413447))
    assert not output_matches("[[872, 1962]]", tf.ragged.constant([[872, 1963]]))


@pytest.mark.parametrize("shown, value", [
    ("0.69", 0.6951),           # rounds to 0.70
    ("1.2e+09", 1.26e9),        # rounds to 1.3e+09
    ("7914112", 7914113),       # integers are exact
    ("7914112", 7914112.5),
    ("1", True),                # a bool is not a number
    ("0.69", "0.69"),           # nor is a string
    ("'打开'", "打开文件"),       # strings are exact
    ("'北'", "北".encode()),     # bytes are not strings
    ("[1, 2]", (1, 2)),         # a tuple is not a list
    ("[1, 2]", [1, 2, 3]),
    ("[1, 2, ...]", [1]),
    ("{'a': 1}", {"a": 1, "b": 2}),
    ("TensorShape([2, 16])", [2, 16]),
])
def test_wrong_output_does_not_match(shown, value):
    assert not output_matches(shown, value)


def test_example_with_a_wrong_output_fails():
    example = "x = 2\nx * 3  # -> 6\ny = [x, 0.6931]\ny\n# -> [2,\n#     0.70]\n"
    namespace = {}
    with pytest.raises(AssertionError, match=r"(?s)demo\[0\], line 4: y\n.*\n  computed: \[2, 0.6931\]"):
        run_example(example, namespace, "demo[0]")
    assert namespace["y"] == [2, 0.6931]
    run_example(example.replace("0.70", "0.69"), {}, "demo[0]")


def test_output_comments_must_follow_an_expression():
    with pytest.raises(SyntaxError, match="must follow an expression statement, not Assign"):
        shown_outputs("x = 2  # -> 2\n")
    with pytest.raises(SyntaxError, match="must follow an expression statement, not For"):
        shown_outputs("for i in range(2):\n    i\n    # -> 1\nprint()\n")
    with pytest.raises(SyntaxError, match="line 4: an output comment follows no top-level"):
        shown_outputs("x = 2\nx\n\n# -> 2\n")
    assert shown_outputs("x = 2\nx  # -> 2\nx\n# -> 2\n#    (continued)\n# a note\n"
                         "x  # a remark  # -> 2\n") == {
        1: (2, "2"), 2: (3, "2\n(continued)"), 3: (7, "2")}
    with pytest.raises(SyntaxError, match="line 1: an output comment follows no top-level"):
        shown_outputs("f(1,  # -> 1\n  2)\n")


def test_statements_run_in_order_and_share_a_namespace():
    namespace = {}
    run_example("import math\nvalues = []\nvalues.append(math.pi)\nround(values[0], 3)\n"
                "# -> 3.142\n", namespace)
    assert namespace["values"] == [math.pi]
