import pytest

from tandem.project.flows.conditions import (
    ConditionError,
    ConditionSyntaxError,
    Predicate,
    evaluate_condition,
    render_condition,
)

SLOTS = {
    "a": None,
    "b": True,
    "c": "yes",
    "n": 5.0,
    "s": "150",
    "lst": ["x", "y"],
    "f": False,
    "blank": "",
    "none_yet": [],
    "neg": -1.0,
    "my-slot": "dash",
}
DOCUMENT = {"slots": SLOTS, "context": {"collect": "c", "info": {"max_characters": 420}}}


def holds(text: str) -> bool:
    return Predicate.parse(text).evaluate(DOCUMENT)


# Examples whose results were checked against the reference's condition language.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("slots.a is null", True),
        ("slots.a is not null", False),
        ("slots.a", False),
        ("not slots.a", True),
        ("slots.b = true", True),
        ("slots.c = 'yes'", True),
        ("slots.c = yes", False),
        ("slots.n > 3", True),
        ("slots.s > 100", False),
        ("slots.s = 150", False),
        ("slots.missing is null", False),
        ("slots.missing is undefined", True),
        ("slots.lst contains 'x'", True),
        ("slots.c contains 'e'", True),
        ("{'x' 'z'} contains slots.c", False),
        ("slots.c matches '(?i)^Y'", True),
        ("False", False),
        ("slots.f and slots.f or slots.b", False),
    ],
)
def test_verified_examples(text: str, expected: bool) -> None:
    assert holds(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # `and`/`or` share one level and group to the right.
        ("slots.b or slots.f and slots.f", True),  # b or (f and f); left-grouped would be False
        ("slots.f and slots.b or slots.b", False),  # f and (b or b)
        ("(slots.f and slots.b) or slots.b", True),
        ("slots.b or (slots.f and slots.f)", True),
        # `not` binds tighter than and/or, looser than comparisons.
        ("not slots.f and slots.f", False),  # (not f) and f
        ("not (slots.f and slots.f)", True),
        ("not slots.c = 'no'", True),  # not (c = 'no')
        ("not not slots.b", True),
    ],
)
def test_precedence(text: str, expected: bool) -> None:
    assert holds(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("slots.b = 1", True),  # Python equality: True == 1
        ("slots.n = 5", True),  # numbers are floats
        ("slots.n != 5", False),
        ("slots.n is not 4", True),
        ("slots.n == 5.0", True),
        ("slots.neg = -1", True),
        ("slots.n >= 5 and slots.n <= 5 and slots.n < 6", True),
        ("slots.my-slot = 'dash'", True),  # identifiers may contain - . : ;
        ("context.info.max_characters > 400", True),
        ("slots.b = TRUE and slots.a = NULL", True),  # constants are case-insensitive
        ('slots.c = "yes"', True),
    ],
)
def test_comparisons(text: str, expected: bool) -> None:
    assert holds(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("slots.missing is undefined", True),
        ("slots.missing = empty", True),
        ("slots.missing is null", False),
        ("slots.a is undefined", False),  # declared but unset is null, not undefined
        ("slots.a is empty", False),  # None has no length
        ("slots.blank is empty", True),
        ("slots.none_yet is empty", True),
        ("slots.lst is empty", False),
        ("undefined = empty", True),
        ("slots.c.deeper is undefined", True),  # a lookup through a non-mapping
        ("slots.missing > 1", False),  # ordering against undefined is false, not an error
        ("not slots.missing > 1", True),
        ("slots.missing", False),
        ("not slots.missing", True),
    ],
)
def test_undefined_null_and_empty(text: str, expected: bool) -> None:
    assert holds(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{'yes' 'no'} contains slots.c", True),
        ("{5 6} contains slots.n", True),
        ("{1 2} contains slots.n", False),
        ("{} contains slots.n", False),
        ("{slots.c 'z'} contains 'yes'", True),  # set items may be identifiers
        ("slots.lst contains 'z'", False),
        ("slots.n contains 5", False),  # no membership test on a number
        ("slots.missing contains 'x'", False),
    ],
)
def test_sets_and_contains(text: str, expected: bool) -> None:
    assert holds(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("slots.b # and slots.f", True),
        ("slots.f # or slots.b", False),
        ("slots.b and # first line\n slots.c = 'yes'", True),
        ("slots.c = 'y#s'", False),  # '#' inside a string is not a comment
    ],
)
def test_comments(text: str, expected: bool) -> None:
    assert holds(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("slots.c matches '^Y'", False),
        ("slots.c matches '(?i)^Y'", True),
        ("slots.c matches 'e'", True),  # search, not a full match
        ("slots.s matches '^\\d+$'", True),
        ("slots.n matches '5'", False),  # only strings match
        ("not slots.n matches '5'", True),  # ... and that is false, not an error
    ],
)
def test_matches(text: str, expected: bool) -> None:
    assert holds(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("slots.lst", True),
        ("slots.c", True),
        ("slots.blank", False),
        ("'text'", True),
        ("0", False),
        ("1", True),
        ("true", True),
        ("null", False),
    ],
)
def test_truthiness_of_bare_values(text: str, expected: bool) -> None:
    assert holds(text) is expected


@pytest.mark.parametrize(
    "text",
    [
        "slots.s > 100",
        "not (slots.s > 100)",  # an error makes the whole condition false, even under not
        "not (slots.s > 100) or slots.b",  # no short-circuit can hide it here
        "slots.a < 3",  # None vs number
        "slots.c contains 5",  # str membership with a number
    ],
)
def test_errors_make_the_whole_condition_false(text: str) -> None:
    predicate = Predicate.parse(text)
    assert predicate.evaluate(DOCUMENT) is False
    with pytest.raises(ConditionError):
        predicate.evaluate_strict(DOCUMENT)


def test_or_short_circuits_before_an_error() -> None:
    assert holds("slots.b or slots.s > 100") is True


def test_evaluate_strict_returns_plain_results() -> None:
    assert Predicate.parse("slots.c = 'yes'").evaluate_strict(DOCUMENT) is True
    assert Predicate.parse("slots.c = 'no'").evaluate_strict(DOCUMENT) is False


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("", 0),
        ("slots.a =", 9),
        ("(slots.a", 8),
        ("slots.a = 'x", 10),
        ("slots.a = = 1", 10),
        ("slots.a & slots.b", 8),
        ("slots.a = 1 = 2", 12),
        ("slots.c matches '('", 16),
        ("slots.c matches slots.d matches 'x'", 24),
        ("{'x' 'y'", 8),
        ("slots.a and", 11),
        ("slots.a is not", 14),
    ],
)
def test_syntax_errors_carry_a_position(text: str, position: int) -> None:
    with pytest.raises(ConditionSyntaxError) as caught:
        Predicate.parse(text)
    assert caught.value.position == position
    assert evaluate_condition(text, DOCUMENT) is False


def test_variables_are_the_dotted_names_in_order_without_repeats() -> None:
    predicate = Predicate.parse("slots.a and (context.x or not slots.a) or {slots.b 1} contains 1")
    assert predicate.variables == ("slots.a", "context.x", "slots.b")
    assert Predicate.parse("False").variables == ()


def test_parsing_is_cached_by_text() -> None:
    assert Predicate.parse("slots.q = 1") is Predicate.parse("slots.q = 1")


def test_evaluate_condition() -> None:
    assert evaluate_condition("slots.b", DOCUMENT) is True
    assert evaluate_condition("slots.b and", DOCUMENT) is False


def test_render_condition_uses_the_context() -> None:
    rendered = render_condition("slots.{{context.collect}} is not null", {"collect": "amount"})
    assert rendered == "slots.amount is not null"
    assert render_condition("slots.{{context.nothing}} = 1", {}) == "slots. = 1"


def test_render_condition_for_rejections_sees_slots() -> None:
    text = "slots.amount > {{ slots.amount * 0 }}"
    assert render_condition(text, {}, slots={"amount": 5}) == "slots.amount > 0"


def test_render_condition_without_markers_returns_the_text_unchanged() -> None:
    assert render_condition("slots.a = '{x}'", {"collect": "x"}) == "slots.a = '{x}'"


def test_render_condition_reports_template_errors() -> None:
    with pytest.raises(ConditionError):
        render_condition("slots.{{ context.collect", {"collect": "x"})
