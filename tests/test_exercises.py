"""Tests for ganlab/exercises.py: every checker passes a reference solution written here, and
fails on the starter code taken from the notebook's own exercise cell with the learner's hint."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from ganlab import data
from ganlab.course import notebooks, read, source
from ganlab.exercises import EXERCISES, ExerciseError, check
from ganlab.metrics import mode_coverage


def _mbstd(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    B, C, H, W = x.shape
    g = min(group_size, B)
    groups = B // g
    out = torch.empty(B, 1, H, W)
    for k in range(groups):  # image i is in group i % groups
        members = x[k::groups]  # (g, C, H, W)
        std = torch.sqrt(((members - members.mean(0)) ** 2).mean(0) + 1e-8)
        out[k::groups] = std.mean()
    return torch.cat([x, out], dim=1)


def _bce_d(r: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return F.softplus(-r).mean() + F.softplus(f).mean()


def _r1(D, x: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return (grad ** 2).reshape(x.shape[0], -1).sum(dim=1).mean()


def _checkerboard_share(x: torch.Tensor) -> float:
    # The DFT at (H/2, 0), (0, W/2), (H/2, W/2) as alternating sums; Parseval for the total.
    x = x.double() - x.double().mean(dim=(-2, -1), keepdim=True)
    H, W = x.shape[-2:]
    si = torch.tensor([(-1.0) ** i for i in range(H)], dtype=torch.float64)[:, None]
    sj = torch.tensor([(-1.0) ** j for j in range(W)], dtype=torch.float64)[None, :]
    num = sum(((x * s).sum(dim=(-2, -1)) ** 2).sum() for s in (si, sj, si * sj))
    return float(num / (H * W * (x ** 2).sum()))


def _stride2_with_dc(x: torch.Tensor) -> float:
    p = torch.fft.fft2(x.double()).abs() ** 2
    H, W = x.shape[-2:]
    return float((p[..., H // 2, 0] + p[..., 0, W // 2] + p[..., H // 2, W // 2]).sum() / p.sum())


GRID = data.grid25(2500, seed=1)
# Worked out by hand: a 64x64 ProGAN has 5 stages; stage 0 is 0-2000 images, stage 1 fades
# 2000-3000 and is stable 3000-5000, stage 2 fades 5000-6000 (half way at 5500); in all
# 5 x 2000 + 4 x 1000 images.
SOLUTIONS = {
    "00.1": _bce_d,
    "00.2": mode_coverage(GRID.tensors(), GRID.mixture),
    "01.1": lambda f: F.softplus(-f).mean(),
    "01.2": lambda f: -F.softplus(f).mean(),
    "02.3": (_bce_d, lambda f: F.softplus(-f).mean()),
    "03.1": (lambda r, f: 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f ** 2).mean(),
             lambda f: 0.5 * ((f - 1) ** 2).mean()),
    "04.1": lambda a, eps=1e-8: a / torch.sqrt((a ** 2).mean(dim=1, keepdim=True) + eps),
    "04.2": _mbstd,
    "04.3": (2, 0.5, 14_000),
    "04.4": (math.sqrt(2) / math.sqrt(64 * 3 * 3), 1.0 / math.sqrt(64)),
    "05.1": lambda z0, z1, t: (1 - t) * z0 + t * z1,
    "05.2": 0.5,  # E|z0 + z1|^2 / 4D = (D + 0 + D) / 4D
    "07.1": (lambda r, f: -torch.log(torch.sigmoid(r - f)).mean(),
             lambda f, r: -torch.log(torch.sigmoid(f - r)).mean()),
    "07.2": _r1,
    "07.3": 0.5,  # gamma^2 - 1/4 = 0
    "08.1": _checkerboard_share,
    "08.2": 99.0,  # (1 - D) / D at D = 0.01
    "08.3": 1e-3,  # lr * g / (|g| + eps): lr for any |g| >> eps
}
# A typical mistake per exercise: the checker must say "not quite" with the hint.
WRONG = {
    "00.1": lambda r, f: F.softplus(r).mean() + F.softplus(-f).mean(),  # labels swapped
    "01.2": lambda f: F.softplus(f).mean(),  # the sign
    "04.1": lambda a, eps=1e-8: a / torch.sqrt((a ** 2).mean(dim=0, keepdim=True) + eps),
    "04.3": (3, 0.5, 14_000),  # stages counted from 1
    "04.4": (math.sqrt(2) / math.sqrt(64), 1.0 / math.sqrt(64)),  # fan_in without the kernel
    "05.1": lambda z0, z1, t: t * z0 + (1 - t) * z1,
    "05.2": 1.0,
    "07.1": (lambda r, f: F.softplus(r - f).mean(),  # the pair's difference the wrong way round
             lambda f, r: F.softplus(r - f).mean()),
    "07.2": lambda D, x: _r1(D, x).sqrt(),  # the norm, not its square
    "07.3": 0.25,  # gamma^2 instead of gamma
    "08.1": lambda x: _stride2_with_dc(x),  # the mean left in: the DC power joins the total
    "08.2": 1 / 99,  # the ratio upside down
    "08.3": 1.0,  # lr * g, SGD's step
}


def test_every_exercise_has_a_solution() -> None:
    assert set(SOLUTIONS) == set(EXERCISES)


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_reference_solution_passes(exercise: str) -> None:
    assert check(exercise, SOLUTIONS[exercise]) == "correct"


@pytest.mark.parametrize("exercise", sorted(WRONG))
def test_typical_mistake_fails_with_the_hint(exercise: str) -> None:
    with pytest.raises(ExerciseError) as err:
        check(exercise, WRONG[exercise])
    message = str(err.value)
    assert "not quite" in message and EXERCISES[exercise].hint in message


def _defines(node: ast.stmt, names: tuple[str, ...]) -> bool:
    if isinstance(node, ast.FunctionDef):
        return node.name in names
    if isinstance(node, ast.Assign):
        targets = {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        return bool(targets & set(names))
    return False


NO_STARTER = object()


def _starter(exercise: str) -> object:
    """The exercise's starter names, defined by running only their definitions from the
    notebook's exercise cell (the last code cell that defines them); NO_STARTER without one."""
    ex = EXERCISES[exercise]
    (path,) = [p for p in notebooks() if p.stem == ex.notebook]
    for cell in reversed(read(path)["cells"]):
        if cell["cell_type"] != "code":
            continue
        code = "\n".join(line for line in source(cell).splitlines()
                         if not line.lstrip().startswith(("%", "!")))
        nodes = [node for node in ast.parse(code).body if _defines(node, ex.starter)]
        if nodes:
            namespace: dict = {"torch": torch, "F": F}
            exec(compile(ast.Module(body=nodes, type_ignores=[]), str(path), "exec"), namespace)
            values = tuple(namespace[name] for name in ex.starter)
            return values if len(values) > 1 else values[0]
    return NO_STARTER


WITH_STARTERS = [e for e in sorted(EXERCISES) if _starter(e) is not NO_STARTER]


def test_notebooks_hold_starter_code_for_their_exercises() -> None:
    # 02 and 03 describe their loss exercises in prose only; every other one has a starter cell.
    assert {EXERCISES[e].notebook[:2] for e in WITH_STARTERS} == {"00", "01", "04", "05", "07",
                                                                  "08"}
    assert len(WITH_STARTERS) == len(EXERCISES) - 2


@pytest.mark.parametrize("exercise", WITH_STARTERS)
def test_notebook_starter_code_fails_with_the_hint(exercise: str) -> None:
    with pytest.raises(ExerciseError) as err:
        check(exercise, _starter(exercise))
    message = str(err.value)
    assert "not done yet" in message and EXERCISES[exercise].hint in message


def test_unknown_exercise_and_wrong_arity_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="checked exercises: 00.1"):
        check("99.9", None)
    with pytest.raises(ValueError, match="expects a tuple"):
        check("04.3", 2)
    with pytest.raises(ExerciseError, match="expected a function"):
        check("05.1", 3.0)


def test_exercises_point_at_real_notebooks() -> None:
    stems = {p.stem for p in notebooks()}
    for ex in EXERCISES.values():
        assert ex.notebook in stems and ex.id[:2] == ex.notebook[:2], ex


def test_checked_exercise_is_in_the_notebook_text() -> None:
    # Each checked exercise's starter names occur in its notebook (prose or code).
    for ex in EXERCISES.values():
        (path,) = [p for p in notebooks() if p.stem == ex.notebook]
        text = Path(path).read_text()
        missing = [n for n in ex.starter if n not in text]
        assert not missing, f"{ex.label}: {missing} not in {path.name}"


def test_show_prints_the_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    from ganlab.exercises import show

    assert show("05.2", 0.5) is True
    assert capsys.readouterr().out == "exercise 05.2 (how short the lerp midpoint is): correct\n"
    assert show("05.2", None) is False
    assert "not done yet. Hint: |(z0 + z1) / 2|^2" in capsys.readouterr().out


@pytest.mark.parametrize("exercise", WITH_STARTERS)
def test_notebook_runs_the_checker_ci_tests(exercise: str) -> None:
    ex = EXERCISES[exercise]
    (path,) = [p for p in notebooks() if p.stem == ex.notebook]
    code = "\n".join(source(c) for c in read(path)["cells"] if c["cell_type"] == "code")
    assert f'exercises.show("{exercise}"' in code, f"{path.name} does not check {ex.label}"
