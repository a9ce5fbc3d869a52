"""Find the final answer in a model's whole output, and the answer in a dataset's gold field.

Models state answers in several conventions. We look for them from the most to the least explicit, the
way math-verify's extraction does, so that what we hand it is the answer and not the text around it:
1. the last `\\boxed{...}` (with the boxes just before it when only "and", "," or spacing separate them,
   so `\\boxed{1} and \\boxed{2}` is the answer `1, 2`) or a later "the final answer is ...";
2. `#### x` (GSM8K);
3. "the answer is x" / "Answer: x"; where the gold is an option letter, a letter named as the answer,
   option or choice, else the last one in parentheses;
4. a short response of no prose as a whole ("2^{10}", "\\frac 1 2"): its last number would be a fragment;
5. the last math-mode expression (`$...$`, `$$...$$`, `\\(...\\)`, `\\[...\\]`);
6. the last number, only where the caller allows it (the gold is a plain number and the trainer did not
   switch it off): whichever of 5 and 6 ends later wins, so `$\\sqrt3$` stays `\\sqrt3`.
"""

from __future__ import annotations

import re

MAX_RESPONSE_CHARS = 20_000  # only the tail is searched: answers come last, and this bounds the work
MAX_ANSWER_CHARS = 1_000
_MAX_BOXES = 50  # a response with more boxes than that is not worth more work

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*", re.A)
_BRACE = re.compile(r"[{}]", re.A)
_HASHES = re.compile(r"####\s*([^\n]*)", re.A)
_FINAL_IS = re.compile(r"final\s+answer(?:[^\n.]|\.\d){0,100}?\s+is\s*:?\s*", re.I | re.A)
_ANSWER = re.compile(r"answer\s*(?:is\s*:?|:|=)\s*", re.I | re.A)
# one math-mode span: display $$..$$ and \[..\] may span lines, inline $..$ and \(..\) may not; a `$` right
# after a digit or a backslash opens nothing (prices like "$5 and $6" are no maths)
_MATH = re.compile(
    r"(?<!\\)\$\$(?P<dd>(?:[^$]|\\\$){1,2000}?)(?<!\\)\$\$"
    r"|(?<!\\)\\\[(?P<db>(?:[^\\]|\\(?!\])){1,2000}?)\\\]"
    r"|(?<![\\\d$])\$(?P<id>(?:\\\$|[^\n$]){1,1000}?)(?<!\\)\$"
    r"|(?<!\\)\\\((?P<ip>(?:[^\\\n]|\\(?!\))){1,1000}?)\\\)",
    re.A,
)
# a number as math-verify reads one: thousands groups (1,234.5 or 1 234), a decimal point or comma (2,74),
# a fraction (3/4, \frac{3}{4}), a percentage; never part of a word or of a longer number ("K2", "1.2.3")
_NUMBER = re.compile(
    r"(?<![\w.,])-?(?:[1-9]\d{0,2}(?:([, ])\d{3})(?:\1\d{3})*(?:\.\d+)?|\d+(?:[.,]\d+)?(?:\s*/\s*\d+)?|\.\d+"
    r"|\\[dtc]?frac\{\d+\}\{\d+\})(?:\s*%)?(?!\d|[.,]\d)",
    re.A,
)
# text that may separate several answers: spacing, commas, "and"/"or", math delimiters, \quad, \text{and},
# and the name of the next one ("x = \boxed{1} and y = \boxed{2}")
_SEPARATOR = re.compile(
    r"(?:\s|[,;$.]|\\[,;:! ]|\\q?quad|\\[\[\]()]|\\text\{\s*(?:and|or|,)?\s*\}|\band\b|\bor\b"
    r"|[A-Za-z](?:_\{?\w{1,3}\}?)?\s*=)*",
    re.A,
)
# an inline span broken across lines ("$ \n 9 \n $", "\( \n 9 \n \)"): no maths in LaTeX or math-verify, so
# its numbers are no answer either
_BROKEN_INLINE = re.compile(
    r"(?<![\\$])\$(?!\$)[ \t]*\n[^$]{0,2000}?\n[ \t]*(?<!\\)\$(?!\$)"
    r"|(?<!\\)\\\((?:[^\\\n]|\\(?!\))){0,1000}\n(?:[^\\]|\\(?!\))){0,2000}?\\\)",
    re.A,
)
_SENTENCE_END = re.compile(r"\.(?:\s|$)|\n|\bI hope\b", re.A)
_PROSE = re.compile(r"(?<![A-Za-z])[A-Za-z]{2,}+\s+[A-Za-z]{2}", re.A)  # two words; linear on any input
# a `\\text{...}` group with its words, dropped whole: words in it are labels, not prose around an answer
_TEXT_GROUP = re.compile(r"\\(?:text|textbf|textit|mbox|mathrm)\s*\{[^{}]*\}", re.A)
_BARE_CHARS = 100  # a whole response this short, one token or no words, is the answer ("W(x)=1orW(x)=-1")


def _braced(text: str, open_at: int) -> int | None:
    """Index of the brace closing the group that opens at `open_at`, or None if it never closes."""
    depth = 0
    for m in _BRACE.finditer(text, open_at):
        if m.group() == "{":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return m.start()
    return None


def _boxes(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of the last well-formed boxes (`\\boxed{..}`, `\\fbox{..}`, `\\boxed 5`)."""
    out = []
    for m in list(_BOXED.finditer(text))[-_MAX_BOXES:]:
        end = m.end()
        if end < len(text) and text[end] == "{":
            close = _braced(text, end)
            if close is not None:
                out.append((m.start(), close + 1, text[end + 1 : close]))
        elif end < len(text):
            word = re.match(r"[^\s$]+", text[end:])
            if word:
                out.append((m.start(), end + word.end(), word.group()))
    return out


def last_boxed(text: str) -> str | None:
    """Argument of the last well-formed `\\boxed{...}` / `\\fbox{...}` (or `\\boxed 5`)."""
    boxes = _boxes(text)
    return boxes[-1][2] if boxes else None


def _runs(
    spans: list[tuple[int, int, str]], text: str, within: list[tuple[int, int, str]] = ()
) -> list[tuple[int, int, str]]:
    """Spans that only separators part ("$a$, $b$ and $c$"), or that sit in one of the spans `within`
    (boxes in one maths span), joined into one answer "a, b, c"."""
    runs: list[tuple[int, int, list[str]]] = []
    for start, end, content in spans:
        if (
            runs
            and runs[-1][1] <= start
            and (
                _SEPARATOR.fullmatch(text, runs[-1][1], start)
                or any(a <= runs[-1][0] and end <= b for a, b, _ in within)
            )
        ):
            runs[-1] = (runs[-1][0], end, runs[-1][2] + [content.strip()])
        else:
            runs.append((start, end, [content.strip()]))
    return [(start, end, ", ".join(parts)) for start, end, parts in runs]


def _math_spans(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), next(g for g in m.groups() if g is not None)) for m in _MATH.finditer(text)]


def _numbers(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group().replace(" ", "")) for m in _NUMBER.finditer(text)]


def _last_number(text: str, window: int = 400, margin: int = 200) -> list[tuple[int, int, str]]:
    """`_numbers(text)[-1:]` without scanning all of a long text: the last number of its last `window`
    characters is the text's last number when it starts `margin` characters in (no number is that long, so
    the scan there is in step with a scan of the whole text); else the whole text is scanned."""
    offset = max(len(text) - window, 0)
    last = None
    for last in _NUMBER.finditer(text, offset):  # noqa: B007 (only the last match is wanted)
        pass
    if last is None or (offset and last.start() - offset < margin):
        return _numbers(text)[-1:]
    return [(last.start(), last.end(), last.group().replace(" ", ""))]


def _phrase(text: str, start: int, numbers: bool) -> str | None:
    """The answer stated right after "answer is" at `start`: a box or maths span there, else the rest of
    the sentence; a sentence of prose gives its first number (if numbers are allowed) or nothing."""
    head = text[start : start + 2 * MAX_ANSWER_CHARS]
    for found in (_boxes(head[:MAX_ANSWER_CHARS]), _math_spans(head)):
        if found and found[0][0] <= 50:  # right after the phrase, not somewhere later in the text
            return _runs(found, head)[0][2] or None
    end = _SENTENCE_END.search(head)
    sentence = head[: end.start() if end else len(head)].strip().strip("$*").strip()
    if _PROSE.search(sentence):
        first = _numbers(sentence)
        return first[0][2] if numbers and first else None
    return sentence or None


def extract_answer(response: str, last_number: bool = True, choices: bool = False) -> str | None:
    """The final answer stated in `response`, or None if it states none.

    `last_number` allows the last-number fallback (and numbers read out of a sentence of prose); callers
    pass False where the gold answer is no plain number or where only well-formed answers may score.
    `choices` (the gold answer is an option letter): where nothing is stated explicitly, an option letter
    named in words ("the correct option is (B)") or the last one in parentheses is the answer.
    """
    if not isinstance(response, str):
        return None
    text = response[-MAX_RESPONSE_CHARS:]
    found = _explicit(text, last_number) or (choices and _choice(text)) or _implicit(text, last_number)
    if found is None:
        return None
    found = found.strip()
    return found if 0 < len(found) <= MAX_ANSWER_CHARS else None


def _explicit(text: str, numbers: bool) -> str | None:
    """An answer the text marks as such: boxed, "final answer is", `####`, "answer is"."""
    boxed = _runs(_boxes(text), text, _math_spans(text))[-1:] if "\\boxed" in text or "\\fbox" in text else []
    final = None
    if "nswer" in text or "NSWER" in text:
        final = next(reversed(list(_FINAL_IS.finditer(text))), None)
    if final is not None and (not boxed or final.start() > boxed[0][1]):
        stated = _phrase(text, final.end(), numbers)
        if stated:
            return stated
    if boxed:
        return boxed[0][2]
    if "####" in text:
        for hit in reversed(_HASHES.findall(text)):
            stated = _phrase(hit, 0, True)
            if stated:
                return stated
    if "nswer" in text or "NSWER" in text:
        for m in reversed(list(_ANSWER.finditer(text))):
            stated = _phrase(text, m.end(), numbers)
            if stated:
                return stated
    return None


def _implicit(text: str, numbers: bool) -> str | None:
    """The last maths span, or the last number where allowed, whichever ends later; a short response of no
    prose is taken whole before its last number, which would be a fragment of it (`2^{10}`, `\\frac 1 2`,
    `3\\frac{1}{4}`), unless the response is that number in brackets or punctuation (`[45]`, `12.`)."""
    spans = [
        s for s in _math_spans(text) if not _PROSE.search(_TEXT_GROUP.sub("", s[2]))
    ]  # "$5 a day and $6"
    maths = _runs(spans, text)[-1:]
    tail = text[-2_000:]
    if numbers and ("$" in tail or "\\(" in tail):
        tail = _BROKEN_INLINE.sub(lambda m: " " * len(m.group()), tail)
    number = _last_number(tail) if numbers else []
    bare = _bare(text)
    if bare is not None and not (
        maths and _SEPARATOR.fullmatch(text, 0, maths[0][0]) and _SEPARATOR.fullmatch(text, maths[0][1])
    ):
        if not number or bare.strip(_WRAPPING) != number[0][2]:
            return bare
    if number and (not maths or max(len(text) - 2_000, 0) + number[0][1] > maths[0][1]):
        return number[0][2]
    if maths:
        return maths[0][2]
    return bare


_WRAPPING = "[](){}.,;:? \t"


def _bare(text: str) -> str | None:
    """The whole response where it is short, on one line, and one token or no words ("x^2 + 1"): the answer
    itself; else None ("I think 72" is a sentence)."""
    bare = text.strip()
    if len(bare) > 4 and bare.startswith("**") and bare.endswith("**"):  # Markdown bold around the answer
        bare = bare[2:-2].strip()
    if not bare or len(bare) > _BARE_CHARS or "\n" in bare:
        return None
    tokens = _TEXT_GROUP.sub(" ", bare).split()
    words = [w for t in tokens if (w := t.strip(_WRAPPING)).isalpha() and len(w) > 1]
    return bare if len(bare.split()) == 1 or not words else None


def gold_answer(gold: str) -> str:
    """A dataset's gold field reduced to the answer itself: a whole worked solution (boxed, `####`) gives
    its final answer, `$..$` and `\\(..\\)` are removed, a short sentence that states one number and no
    other answer ("The number is 4.") gives that number, and a bare answer stays as it is."""
    gold = str(gold)[-MAX_RESPONSE_CHARS:].strip()
    bare = _MATH.fullmatch(gold)
    if bare:
        return next(g for g in bare.groups() if g is not None).strip()
    if "\\boxed" in gold or "\\fbox" in gold or "####" in gold or _PROSE.search(gold):
        found = extract_answer(gold, last_number=False)
        if found is None and len(gold) <= 2 * _BARE_CHARS and _PROSE.search(gold):
            numbers = _numbers(gold)
            found = numbers[0][2] if len(numbers) == 1 else None
        return found or gold
    return gold


# multiple choice: an option letter stated as the answer, option or choice ("option (B)", "choice: C")
_CHOICE_STATED = re.compile(
    r"\b(?i:answer|option|choice)\s*(?:(?i:is)\b\s*:?\s*|:\s*)?\(?([A-E])\)?(?![\w'])", re.A
)
_CHOICE_PAREN = re.compile(r"\(([A-E])\)", re.A)


def _choice(text: str) -> str | None:
    """The option letter a response names without stating an answer explicitly: the last letter stated as
    the answer, option or choice ("the correct option is (B)", "choice: C"), else the last one in
    parentheses; None if it names none."""
    tail = text[-2 * MAX_ANSWER_CHARS :]
    for pattern in (_CHOICE_STATED, _CHOICE_PAREN):
        found = list(pattern.finditer(tail))
        if found:
            return found[-1].group(1).upper()
    return None
