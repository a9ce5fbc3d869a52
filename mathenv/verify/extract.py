"""Find the final answer in a model's whole output, and the answer in a dataset's gold field.

Models state answers in several conventions; we look for them from the most to the least explicit:
`\\boxed{...}` (last one, nested braces), `#### x` (GSM8K), "the answer is x" / "Answer: x", and last, a
last-number fallback that trainers may switch off to reward only well-formatted answers.
"""

from __future__ import annotations

import re

MAX_RESPONSE_CHARS = 20_000  # only the tail is searched: answers come last, and this bounds the work
MAX_ANSWER_CHARS = 1_000

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*", re.A)
_BRACE = re.compile(r"[{}]", re.A)
_HASHES = re.compile(r"####\s*([^\n]*)", re.A)
_ANSWER_IS = re.compile(
    r"(?:final\s+answer|answer)\s*(?:is\s*:?|:|=)\s*([^\n]*)",
    re.I | re.A,
)
_NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:\s*/\s*\d+)?|-?\.\d+", re.A)
_SENTENCE_END = re.compile(r"\.(?:\s|$)", re.A)


def _braced(text: str, open_at: int) -> str | None:
    """Content of the brace group opening at `open_at`, or None if it never closes."""
    depth = 0
    for m in _BRACE.finditer(text, open_at):
        if m.group() == "{":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : m.start()]
    return None


def last_boxed(text: str) -> str | None:
    """Argument of the last well-formed `\\boxed{...}` / `\\fbox{...}` (or `\\boxed 5`)."""
    starts = [m.end() for m in _BOXED.finditer(text)]
    for end in reversed(starts[-50:]):  # a response with more boxes than that is not worth more work
        if end < len(text) and text[end] == "{":
            content = _braced(text, end)
            if content is not None:
                return content
        elif end < len(text):
            m = re.match(r"[^\s$]+", text[end:])
            if m:
                return m.group()
    return None


def _clean(answer: str) -> str | None:
    answer = answer.strip()
    # cut at the end of the sentence ("The answer is 5. Hope this helps") unless the dot is a decimal point
    m = _SENTENCE_END.search(answer)
    if m:
        answer = answer[: m.start()]
    answer = answer.strip().strip("$").strip()
    answer = answer.rstrip(".").strip()
    if not answer or len(answer) > MAX_ANSWER_CHARS:
        return None
    return answer


def extract_answer(response: str, last_number: bool = True) -> str | None:
    """The final answer stated in `response`, or None if it states none."""
    if not isinstance(response, str):
        return None
    text = response[-MAX_RESPONSE_CHARS:]
    if "\\boxed" in text or "\\fbox" in text:
        boxed = last_boxed(text)
        if boxed is not None:
            boxed = boxed.strip()
            return boxed if 0 < len(boxed) <= MAX_ANSWER_CHARS else None
    if "####" in text:
        hits = _HASHES.findall(text)
        for hit in reversed(hits):
            cleaned = _clean(hit)
            if cleaned:
                return cleaned
    lowered_has_answer = "nswer" in text or "NSWER" in text
    if lowered_has_answer:
        hits = _ANSWER_IS.findall(text)
        for hit in reversed(hits):
            cleaned = _clean(hit)
            if cleaned:
                return cleaned
    if last_number:
        numbers = _NUMBER.findall(text[-2_000:])
        if numbers:
            return numbers[-1].replace(" ", "")
    return None


def gold_answer(gold: str) -> str:
    """A dataset's gold field reduced to the answer itself (`$..$`, `\\boxed{}` and `####` removed)."""
    gold = str(gold).strip()
    if "\\boxed" in gold or "\\fbox" in gold:
        boxed = last_boxed(gold)
        if boxed is not None:
            return boxed.strip()
    if "####" in gold:
        return gold.rsplit("####", 1)[1].strip()
    if len(gold) >= 2 and gold[0] == "$" and gold[-1] == "$":
        return gold.strip("$").strip()
    if gold.startswith("\\(") and gold.endswith("\\)"):
        return gold[2:-2].strip()
    return gold
