"""An evaluation-shaped grading workload, built independently of ``bench_grading``'s own.

A speed figure measured only on the workload its optimisations were tuned for says
little, so this generator is written separately, with its own answer kinds and its own
spellings, and is shaped like what evaluation grades: problems with 8-16 sampled answers
each (uniform), about 40% of the ``(gold, prediction)`` pairs repeating an earlier pair
(a sample repeats one of its problem's earlier answers), and these answer kinds, with
equal weight unless stated:

* integers (also negative, large with thousands separators), fractions, decimals;
* radicals (``3\\sqrt{2}``, ``\\frac{\\sqrt{3}}{2}``), pi expressions (``\\frac{2\\pi}{3}``);
* tuples, intervals (finite and half-infinite), sets;
* text and letters: multiple-choice letters (``B``, ``\\text{(B)}``), worded answers
  (``\\text{no solution}``, ``Yes``);
* malformed predictions in every kind (unbalanced braces, a sentence, two answers).

Every kind is written in several LaTeX variants (``$..$``, ``\\boxed``, ``\\dfrac``,
``\\left(``, spaces, ``x =``), like the spellings models produce.

    python bench/grading_workload.py --pairs 5000 --seed 1     # prints a summary
"""
from __future__ import annotations

import argparse
import random
from collections import Counter
from fractions import Fraction
from math import gcd

KINDS = ("integer", "fraction", "decimal", "radical", "pi", "tuple", "interval", "set",
         "letter", "words")
_MALFORMED = (r"\frac{1}{", r"\sqrt{", "((1,2)", "}", r"\text{I am not sure}", "3 or 4",
              r"\left(", "x=", "?", r"\boxed{", "N/A", "1,2,,3")


def _frac(a: int, b: int, cmd: str = "frac") -> str:
    return rf"\{cmd}{{{a}}}{{{b}}}"


def _dress(rng: random.Random, ans: str) -> str:
    """One presentation variant of an answer string (delimiters, boxes, spaces)."""
    r = rng.random()
    if r < 0.25:
        return ans
    if r < 0.45:
        return f"${ans}$"
    if r < 0.6:
        return rf"\boxed{{{ans}}}"
    if r < 0.7:
        return f" {ans} "
    if r < 0.8:
        return rf"\({ans}\)"
    return ans.replace(",", ", ") if "," in ans else ans


def _integer(rng):
    n = rng.choice([rng.randint(0, 99), rng.randint(100, 999), rng.randint(-50, -1),
                    rng.randint(1000, 99999)])
    gold = str(n)
    same = [str(n), f"{n}.", f"x = {n}", rf"\text{{{n}}}", f"{n:,}" if abs(n) >= 1000 else f"{n}.0"]
    wrong = [str(n + 1), str(n - 1), str(2 * n + 3), str(-n - 7), f"{n}.5"]
    return gold, same, wrong


def _fraction(rng):
    b = rng.randint(2, 40)
    a = rng.randint(1, 2 * b)
    g = gcd(a, b)
    a, b = a // g, b // g
    if b == 1:
        b = 9
    sign = rng.choice(["", "", "-"])
    gold = sign + _frac(a, b)
    same = [f"{sign}{a}/{b}", sign + _frac(a, b, "dfrac"), sign + _frac(2 * a, 2 * b),
            sign + _frac(a, b, "tfrac")]
    v = Fraction(a, b)
    if 10**4 % v.denominator == 0:
        same.append(sign + str(float(v)))
    wrong = [sign + _frac(b, a), sign + _frac(a + 1, b), f"{sign}{float(v):.3f}", _frac(a, b) if sign else "-" + _frac(a, b)]
    return gold, same, wrong


def _decimal(rng):
    v = Fraction(rng.choice([1, 3, 5, 7]) + 8 * rng.randint(0, 500), 8)  # never an integer
    gold = f"{float(v):g}"
    same = [f"{float(v):.4f}", _frac(v.numerator, v.denominator), f"{v.numerator}/{v.denominator}", f"{gold}0"]
    wrong = [f"{float(v) + 0.1:g}", f"{float(v) * 2:g}", f"{round(float(v))}", f"{float(v):.1f}"]
    return gold, same, wrong


def _radical(rng):
    a, c = rng.randint(2, 7), rng.randint(2, 9)
    b = rng.choice([2, 3, 5, 7])
    if rng.random() < 0.5:
        gold = rf"{a}\sqrt{{{b}}}"
        same = [rf"\sqrt{{{a * a * b}}}", rf"{a} \sqrt {b}", rf"{a}\sqrt{b}", rf"{a}\cdot\sqrt{{{b}}}"]
        wrong = [rf"{a}\sqrt{{{b + 1}}}", rf"\sqrt{{{a * b}}}", str(a * b), rf"{a + 1}\sqrt{{{b}}}"]
    else:
        gold = _frac(rf"{a}\sqrt{{{b}}}", c)
        same = [rf"\frac{{{a}}}{{{c}}}\sqrt{{{b}}}", rf"{a}\sqrt{{{b}}}/{c}",
                _frac(rf"{a}\sqrt{{{b}}}", c, "dfrac"), rf"\frac{{{a}\sqrt{b}}}{{{c}}}"]
        wrong = [_frac(rf"{a}\sqrt{{{b}}}", c + 1), _frac(rf"{c}\sqrt{{{b}}}", a), _frac(a, c),
                 f"{a * b ** 0.5 / c:.2f}"]
    return gold, same, wrong


def _pi(rng):
    a, c = rng.randint(1, 7), rng.randint(2, 12)
    if a % c == 0:
        c += 1
    top = r"\pi" if a == 1 else rf"{a}\pi"
    gold = _frac(top, c)
    same = [rf"{top}/{c}", _frac(top, c, "dfrac"), rf"\frac{{{a}}}{{{c}}}\pi", rf"\frac{{{a} \pi}}{{{c}}}"]
    wrong = [_frac(top, c + 1), rf"{a}\pi", _frac(rf"{a + 1}\pi", c), f"{a * 3.14159 / c:.3f}"]
    return gold, same, wrong


def _tuple(rng):
    vals = [rng.randint(-9, 9) for _ in range(rng.choice([2, 2, 3]))]
    if len(vals) == 2 and vals[0] < vals[1]:
        vals.reverse()  # (a, b) with a < b would read as an open interval
    if len(vals) == 2 and vals[0] == vals[1]:
        vals[0] += 1
    body = ",".join(map(str, vals))
    gold = f"({body})"
    same = [f"({', '.join(map(str, vals))})", rf"\left({body}\right)", f"(x,y)=({body})" if len(vals) == 2 else gold]
    wrong = [f"({','.join(map(str, vals[::-1]))})", f"({','.join(str(v + 1) for v in vals)})",
             f"({','.join(map(str, vals[:-1]))})", rf"\{{{body}\}}"]
    return gold, same, wrong


def _interval(rng):
    a, b = sorted(rng.sample(range(-10, 15), 2))
    t = rng.randrange(3)
    if t == 0:
        gold = f"[{a},{b})"
        same = [f"[{a}, {b})", rf"\left[{a},{b}\right)", rf"{a}\le x<{b}", rf"x\in[{a},{b})"]
        wrong = [f"[{a},{b}]", f"({a},{b})", f"[{a},{b + 1})", rf"{a}<x<{b}"]
    elif t == 1:
        gold = rf"(-\infty,{b}]"
        same = [rf"(-\infty, {b}]", rf"\left(-\infty,{b}\right]", rf"x\le{b}", rf"x \leq {b}"]
        wrong = [rf"(-\infty,{b})", rf"[{b},\infty)", rf"x<{b}", rf"x\ge{b}"]
    else:
        gold = rf"({a},\infty)"
        same = [rf"({a}, \infty)", rf"({a},+\infty)", rf"x>{a}", rf"\left({a},\infty\right)"]
        wrong = [rf"[{a},\infty)", rf"(-\infty,{a})", rf"x\ge{a}", rf"({a + 1},\infty)"]
    return gold, same, wrong


def _set(rng):
    vals = sorted(rng.sample(range(-6, 12), rng.choice([2, 3])))
    body = ",".join(map(str, vals))
    gold = rf"\{{{body}\}}"
    shuffled = vals[:]
    rng.shuffle(shuffled)
    same = [rf"\{{{','.join(map(str, shuffled))}\}}", rf"\{{{', '.join(map(str, vals))}\}}",
            rf"\left\{{{body}\right\}}"]
    wrong = [rf"\{{{','.join(map(str, vals[:-1]))}\}}", rf"\{{{body},{vals[-1] + 1}\}}",
             rf"\{{{','.join(str(-v) for v in vals)}\}}", str(vals[0])]
    return gold, same, wrong


def _letter(rng):
    letters = "ABCDE"
    g = rng.choice(letters)
    gold = g
    same = [rf"\text{{{g}}}", rf"\textbf{{{g}}}", rf"\mathrm{{{g}}}", g]
    others = [x for x in letters if x != g]
    wrong = [rng.choice(others), rf"\text{{{rng.choice(others)}}}", g.lower(), rng.choice(others)]
    return gold, same, wrong


_WORDS = (("no solution", ["No solution", r"\text{No solution}", r"\text{no solution}", "no solution"],
           ["infinitely many", r"\text{yes}", "0"]),
          ("yes", ["Yes", r"\text{Yes}", r"\textbf{yes}", "yes"], ["No", r"\text{no}", "1"]),
          ("no", ["No", r"\text{No}", "no", r"\textbf{No}"], ["Yes", r"\text{yes}", "0"]),
          ("even", ["Even", r"\text{even}", r"\text{Even}"], ["odd", r"\text{Odd}", "2"]))


def _words(rng):
    word, same, wrong = rng.choice(_WORDS)
    gold = rng.choice([rf"\text{{{word}}}", word.capitalize() if " " not in word else rf"\text{{{word}}}"])
    return gold, list(same), list(wrong)


_MAKERS = dict(zip(KINDS, (_integer, _fraction, _decimal, _radical, _pi, _tuple, _interval, _set,
                           _letter, _words)))


def make_workload(n_pairs: int = 5000, seed: int = 1, repeat: float = 0.25,
                  min_samples: int = 8, max_samples: int = 16):
    """Items ``(problem, kind, gold, pred)`` (pred None: no answer extracted), ``n_pairs`` of them.

    Within a problem a sample repeats one of the problem's earlier predictions with
    probability ``repeat`` (0.25 gives about 40% repeated pairs in all, since fresh
    spellings also coincide); otherwise it is a fresh spelling: right (55%), wrong (35%),
    malformed (6%) or missing (4%), each dressed in a presentation variant.
    """
    rng = random.Random(seed)
    items: list[tuple[int, str, str, str | None]] = []
    pid = 0
    while len(items) < n_pairs:
        kind = rng.choice(KINDS)
        gold, same, wrong = _MAKERS[kind](rng)
        seen: list[str | None] = []
        for _ in range(rng.randint(min_samples, max_samples)):
            if seen and rng.random() < repeat:
                pred = rng.choice(seen)
            else:
                r = rng.random()
                if r < 0.55:
                    pred = _dress(rng, rng.choice(same + [gold]))
                elif r < 0.90:
                    pred = _dress(rng, rng.choice(wrong))
                elif r < 0.96:
                    pred = rng.choice(_MALFORMED)
                else:
                    pred = None
                seen.append(pred)
            items.append((pid, kind, gold, pred))
            if len(items) >= n_pairs:
                break
        pid += 1
    return items


def repeat_rate(items) -> float:
    """The share of pairs equal to an earlier pair of the workload."""
    pairs = [(g, p) for _, _, g, p in items]
    return 1 - len(set(pairs)) / max(len(pairs), 1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    items = make_workload(args.pairs, args.seed)
    print(f"{len(items)} pairs over {len({i[0] for i in items})} problems, "
          f"repeat rate {repeat_rate(items):.1%}")
    print("kinds:", dict(Counter(k for _, k, _, _ in items)))
    for it in random.Random(0).sample(items, 12):
        print("  ", it)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
