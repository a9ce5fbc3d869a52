"""A small, safe parser from LaTeX or plain maths to sympy expressions.

Why our own: sympy's `parse_expr` evaluates generated Python code and `parse_latex` needs an ANTLR runtime
pinned to one version; neither bounds the work an input can cause. This recursive-descent parser builds
sympy objects directly, never calls `eval`, and refuses inputs that would make sympy or Python's integers
blow up (huge powers, factorials, binomials, numbers, nesting), so the expensive stage that follows only
ever sees bounded work.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import sympy

MAX_TOKENS = 400
MAX_DEPTH = 60
MAX_NUMBER_DIGITS = 400
MAX_RESULT_DIGITS = 2_000  # a power or factorial whose value would have more digits is refused
MAX_FACTORIAL = 500


class ParseError(ValueError):
    """The text is not a maths expression this parser understands (or is too big to evaluate safely)."""


_TOKEN = re.compile(
    r"""
    (?P<num>\d+(?:\.\d*)?|\.\d+)
  | (?P<cmd>\\[a-zA-Z]+|\\[{}|,;:!%\s])
  | (?P<word>[a-zA-Z]+)
  | (?P<op>\*\*|[-+*/^_!(){}\[\],|=<>'])
  | (?P<uni>[π∞√×÷·−])
  | (?P<space>\s+)
    """,
    re.X | re.A,
)

_UNICODE = {"π": ("cmd", "\\pi"), "∞": ("cmd", "\\infty"), "√": ("cmd", "\\sqrt"), "×": ("op", "*"),
            "÷": ("op", "/"), "·": ("op", "*"), "−": ("op", "-")}
_SKIP_CMDS = {"\\,", "\\;", "\\:", "\\!", "\\ ", "\\left", "\\right", "\\displaystyle", "\\big", "\\Big",
              "\\bigl", "\\bigr", "\\Bigl", "\\Bigr", "\\quad", "\\qquad", "\\limits"}
_MUL_CMDS = {"\\cdot", "\\times", "\\ast"}
_FUNCS = {
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "cot": sympy.cot, "sec": sympy.sec,
    "csc": sympy.csc, "arcsin": sympy.asin, "arccos": sympy.acos, "arctan": sympy.atan,
    "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh, "exp": sympy.exp,
    "ln": sympy.log, "log": sympy.log, "sqrt": sympy.sqrt, "abs": sympy.Abs,
}
_CONSTS = {"pi": sympy.pi, "infty": sympy.oo, "infinity": sympy.oo, "inf": sympy.oo, "oo": sympy.oo}
_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta",
          "iota", "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi",
          "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega"}
_TEXT_CMDS = {"\\text", "\\textbf", "\\mathrm", "\\mathbf", "\\mbox", "\\operatorname", "\\textit", "\\mathit"}


def tokenize(text: str) -> list[tuple[str, str]]:
    """Split text into (kind, value) tokens; raises ParseError on characters no maths uses."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    n = len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ParseError(f"unexpected character {text[pos]!r}")
        pos = m.end()
        kind = m.lastgroup
        value = m.group()
        if kind == "space":
            continue
        if kind == "uni":
            kind, value = _UNICODE[value]
        if kind == "cmd" and value in _SKIP_CMDS:
            continue
        if kind == "cmd" and value.startswith("\\") and value[1:].isspace():
            continue
        tokens.append((kind, value))
        if len(tokens) > MAX_TOKENS:
            raise ParseError(f"expression longer than {MAX_TOKENS} tokens")
    return tokens


def _digits(x: sympy.Expr) -> float:
    """Decimal digits of a number's magnitude (inf for non-finite); cheap, never evaluates big powers."""
    if x.is_Integer:
        v = abs(int(x))
        return v.bit_length() * 0.30103
    if x.is_Rational:
        return max(_digits(sympy.Integer(x.p)), _digits(sympy.Integer(x.q)))
    return 0.0


def _safe_pow(base: sympy.Expr, exp: sympy.Expr) -> sympy.Expr:
    if exp.is_Number and base.is_Number:
        if not exp.is_finite or not base.is_finite:
            return sympy.Pow(base, exp)
        b = abs(float(base)) if _digits(base) < 300 else math.inf
        e = abs(float(exp)) if _digits(exp) < 300 else math.inf
        size = max(_digits(base), 1.0) * e if b not in (0.0, 1.0) else 0.0
        if size > MAX_RESULT_DIGITS:
            raise ParseError("power too large to evaluate")
    elif exp.is_Number and _digits(exp) > 6:
        raise ParseError("exponent too large")
    return sympy.Pow(base, exp)


def _safe_factorial(x: sympy.Expr) -> sympy.Expr:
    if x.is_Number:
        if not x.is_Integer or x < 0:
            raise ParseError("factorial of a non-natural number")
        if x > MAX_FACTORIAL:
            raise ParseError("factorial too large to evaluate")
    return sympy.factorial(x)


class _Parser:
    """Recursive descent over tokens; precedence: sum < product < unary minus < power < postfix < atom."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.toks = tokens
        self.i = 0
        self.depth = 0

    # -- helpers -------------------------------------------------------------------------------------
    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def next(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ParseError("unexpected end of expression")
        self.i += 1
        return tok

    def accept(self, value: str) -> bool:
        tok = self.peek()
        if tok is not None and tok[1] == value:
            self.i += 1
            return True
        return False

    def expect(self, value: str) -> None:
        if not self.accept(value):
            tok = self.peek()
            raise ParseError(f"expected {value!r}, found {tok[1] if tok else 'end'!r}")

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(f"expression nested deeper than {MAX_DEPTH}")

    # -- grammar -------------------------------------------------------------------------------------
    def parse(self) -> sympy.Expr:
        expr = self.sum()
        if self.peek() is not None:
            raise ParseError(f"unexpected {self.peek()[1]!r}")
        return expr

    def sum(self) -> sympy.Expr:
        self.enter()
        terms = [self.product()]
        while (tok := self.peek()) is not None and tok[1] in ("+", "-"):
            self.i += 1
            t = self.product()
            terms.append(t if tok[1] == "+" else -t)
        self.depth -= 1
        return sympy.Add(*terms) if len(terms) > 1 else terms[0]

    def _starts_atom(self, tok: tuple[str, str] | None) -> bool:
        if tok is None:
            return False
        kind, value = tok
        if kind in ("num", "word"):
            return True
        if kind == "op":
            return value in ("(", "{", "[", "|") and value != "|"
        return kind == "cmd" and value not in _MUL_CMDS and value not in ("\\div", "\\pm", "\\mp", "\\}", "\\|")

    def product(self) -> sympy.Expr:
        factors = [self.unary()]
        while True:
            tok = self.peek()
            if tok is None:
                break
            if tok[1] in ("*",) or tok[1] in _MUL_CMDS:
                self.i += 1
                factors.append(self.unary())
            elif tok[1] in ("/", "\\div"):
                self.i += 1
                denom = self.unary()
                if denom == 0:
                    raise ParseError("division by zero")
                factors.append(sympy.Pow(denom, -1))
            elif self._starts_atom(tok):
                factors.append(self.power())
            else:
                break
        return sympy.Mul(*factors) if len(factors) > 1 else factors[0]

    def unary(self) -> sympy.Expr:
        if self.accept("-"):
            return -self.unary()
        if self.accept("+"):
            return self.unary()
        return self.power()

    def power(self) -> sympy.Expr:
        self.enter()
        base = self.postfix()
        if self.peek() is not None and self.peek()[1] in ("^", "**"):
            self.i += 1
            exponent = self.exponent()
            base = _safe_pow(base, exponent)
            # a^b! is rare; a^b^c is right-associative through exponent()
        self.depth -= 1
        return base

    def exponent(self) -> sympy.Expr:
        tok = self.peek()
        if tok is None:
            raise ParseError("missing exponent")
        if tok[1] == "{":
            self.i += 1
            e = self.sum()
            self.expect("}")
        elif tok[1] in ("-", "+"):
            self.i += 1
            e = self.exponent()
            e = -e if tok[1] == "-" else e
            return e
        elif tok[0] == "num" and "." not in tok[1] and len(tok[1]) > 1 and self._latex_mode:
            # LaTeX binds one character: 2^10 in LaTeX means 2^1 * 0; we read it as 2^{10} like humans do.
            e = self.atom()
        else:
            e = self.atom()
        if self.peek() is not None and self.peek()[1] in ("^", "**"):
            self.i += 1
            e = _safe_pow(e, self.exponent())
        return e

    _latex_mode = True

    def postfix(self) -> sympy.Expr:
        x = self.atom()
        while True:
            tok = self.peek()
            if tok is None:
                break
            if tok[1] == "!":
                self.i += 1
                x = _safe_factorial(x)
            elif tok[1] == "'":
                raise ParseError("derivative notation is not an answer")
            else:
                break
        return x

    def group(self) -> sympy.Expr:
        """A `{...}` argument, or a single token (`\\frac12`)."""
        tok = self.peek()
        if tok is not None and tok[1] == "{":
            self.i += 1
            e = self.sum()
            self.expect("}")
            return e
        if tok is not None and tok[0] == "num":
            self.i += 1
            digits = tok[1]
            # \frac12 means \frac{1}{2}: a bare number argument is one digit
            if len(digits) > 1 and "." not in digits:
                self.toks.insert(self.i, ("num", digits[1:]))
                digits = digits[0]
            return self._number(digits)
        return self.atom()

    def _number(self, text: str) -> sympy.Expr:
        if len(text) > MAX_NUMBER_DIGITS:
            raise ParseError("number too long")
        if "." in text:
            text = text.rstrip(".") or "0"
            return sympy.Rational(text)
        return sympy.Integer(text)

    def _brace_text(self) -> str:
        """Raw text of a `{...}` argument (for \\text and \\mathrm): its words joined."""
        self.expect("{")
        parts = []
        depth = 1
        while True:
            kind, value = self.next()
            if value == "{":
                depth += 1
            elif value == "}":
                depth -= 1
                if depth == 0:
                    return "".join(parts)
            else:
                parts.append(value)

    def atom(self) -> sympy.Expr:
        self.enter()
        try:
            return self._atom()
        finally:
            self.depth -= 1

    def _atom(self) -> sympy.Expr:
        kind, value = self.next()
        if kind == "num":
            return self._number(value)
        if value in ("(", "[", "{"):
            close = {"(": ")", "[": "]", "{": "}"}[value]
            e = self.sum()
            self.expect(close)
            return e
        if value == "|":
            e = self.sum()
            self.expect("|")
            return sympy.Abs(e)
        if kind == "word":
            return self._word(value)
        if kind == "cmd":
            return self._command(value)
        raise ParseError(f"unexpected {value!r}")

    def _word(self, word: str) -> sympy.Expr:
        low = word
        if low in _CONSTS:
            return _CONSTS[low]
        if low in _FUNCS:
            return self._function(low)
        if len(word) == 1:
            return self._symbol(word)
        if word in ("i",):
            return sympy.I
        # a run of letters is a product of single-letter variables (xy = x*y)
        if len(word) > 6:
            raise ParseError(f"word {word!r} is not maths")
        out = sympy.Integer(1)
        for ch in word[:-1]:
            out *= sympy.Symbol(ch)
        return out * self._symbol(word[-1])

    def _symbol(self, name: str) -> sympy.Expr:
        if self.accept("_"):
            sub = self.peek()
            if sub is not None and sub[1] == "{":
                self.i += 1
                parts = []
                while not self.accept("}"):
                    parts.append(self.next()[1])
                    if len(parts) > 10:
                        raise ParseError("subscript too long")
                name = f"{name}_{''.join(parts)}"
            else:
                name = f"{name}_{self.next()[1]}"
        if name == "e":
            return sympy.E
        return sympy.Symbol(name)

    def _function(self, name: str) -> sympy.Expr:
        fn = _FUNCS[name]
        base = None
        if name == "log" and self.accept("_"):
            base = self.group()
        power = None
        if self.peek() is not None and self.peek()[1] == "^":  # \sin^2 x
            self.i += 1
            power = self.exponent()
        if self.peek() is not None and self.peek()[1] in ("(", "{", "["):
            arg = self.atom()
        else:
            arg = self.power()
        out = fn(arg) if base is None else sympy.log(arg, base)
        return _safe_pow(out, power) if power is not None else out

    def _command(self, cmd: str) -> sympy.Expr:
        name = cmd[1:]
        if name in ("frac", "dfrac", "tfrac", "cfrac"):
            num = self.group()
            den = self.group()
            if den == 0:
                raise ParseError("division by zero")
            return num / den
        if name == "sqrt":
            index = None
            if self.accept("["):
                index = self.sum()
                self.expect("]")
            arg = self.group()
            if index is None:
                return sympy.sqrt(arg)
            if index.is_Number and _digits(index) > 4:
                raise ParseError("root index too large")
            return sympy.root(arg, index)
        if name in ("binom", "dbinom", "tbinom", "choose"):
            n = self.group()
            k = self.group()
            if n.is_Number and (not n.is_Integer or abs(n) > 10_000):
                raise ParseError("binomial too large")
            return sympy.binomial(n, k)
        if name in _CONSTS:
            return _CONSTS[name]
        if name in _FUNCS:
            return self._function(name)
        if name in _GREEK:
            return self._symbol(name)
        if cmd in _TEXT_CMDS:
            text = self._brace_text()
            if len(text) == 1:
                return sympy.Symbol(text)
            raise ParseError(f"text {text!r} is not maths")
        if name == "circ":
            return sympy.Integer(1)
        if name == "%":
            return sympy.Rational(1, 100)
        if name in ("lfloor", "lceil"):
            e = self.sum()
            self.expect("\\r" + name[1:])
            return sympy.floor(e) if name == "lfloor" else sympy.ceiling(e)
        if name == "mathbb" or name == "mathcal":
            return sympy.Symbol(self._brace_text())
        raise ParseError(f"unknown command {cmd}")


@lru_cache(maxsize=65_536)
def parse(text: str) -> sympy.Expr:
    """Parse one expression (no commas, no relations) to sympy; raises ParseError if it can't or mustn't."""
    text = text.strip()
    if not text:
        raise ParseError("empty expression")
    # a trailing percent sign means /100 only for the parser; the grader handles percentages itself
    return _Parser(tokenize(text)).parse()
