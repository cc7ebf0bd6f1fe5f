"""The learner's warnings: what a run says when training goes wrong, in plain words.

STYLE rule 11: when training diverges, say so with the likely cause and a fix to try. Four
things are watched, every log or snapshot, at no cost to the step itself:

- a loss or G's weights became NaN/inf: :class:`TrainingDiverged` stops the run and keeps the
  last good checkpoint;
- D wins outright (D(x) ~ 1, D(G(z)) ~ 0 for several logs): G gets almost no gradient;
- G's gradient vanishes (the sigmoid losses): the norm of the gradient the last G step left in
  G's weights (read at log time, ``trainer.g_grad_norms``) stays below 1% of its largest value
  for several logs while D rejects the fakes (the saturating minimax loss does this, notebook
  08);
- mode collapse: the fixed-noise samples are much less diverse than the data.

:class:`Diagnostics` is a mixin of :class:`ganlab.training.Trainer`, so the thresholds are the
trainer's attributes (``trainer.d_wins_patience = 3``) and each warning is issued once per run
and kept in ``trainer.warnings_issued``.
"""

from __future__ import annotations

import math
import warnings

import torch


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class Diagnostics:
    """The checks above. The Trainer provides ``config``, ``step``, ``out_dir``, ``G``, ``ema``,
    ``data`` and ``dist`` and calls :meth:`_start_diagnostics` before training."""

    collapse_ratio = 0.1  # sample diversity below this fraction of the data's means collapse
    collapse_after = 200  # an untrained G's outputs all look alike: judge only after this step
    d_wins_patience = 5  # consecutive logs with D(G(z)) ~ 0 before warning
    vanishing_ratio = 0.01  # G's gradient norm below this fraction of its largest so far ...
    vanishing_patience = 3  # ... for this many consecutive logs, with D(G(z)) < 0.1

    def _start_diagnostics(self) -> None:
        self._warned: set[str] = set()
        self.warnings_issued: list[str] = []  # what the run warned about, in order
        self.warning_keys: list[str] = []  # their keys: "d_wins", "vanishing_g", "collapse"
        self._d_wins_streak = 0
        self._vanishing_streak = 0
        self.g_grad_norms: list[tuple[int, float]] = []  # (step, |grad L_G wrt G|) at each log
        self._real_diversity: float | None = None

    def _check_finite(self, record: dict[str, float]) -> None:
        """Stop on a logged loss that is NaN/inf, saying why and what to try."""
        bad = [k for k, v in record.items() if not math.isfinite(v)]
        if bad:
            raise TrainingDiverged(
                f"{', '.join(bad)} became NaN/inf at step {self.step}. Likely causes: a learning "
                "rate too high for this loss, fp16 overflow, or data outside [-1, 1]. Try a lower "
                "lr (e.g. halve lr_d and lr_g) or --amp off. The last good checkpoint"
                + (f" in {self.out_dir} is kept." if self.out_dir else " (none: no out_dir).")
            )

    def _check_weights(self) -> None:
        """Refuse to checkpoint a G whose weights are NaN/inf (the last good one is kept)."""
        for p in self.G.parameters():
            if not torch.isfinite(p).all():
                raise TrainingDiverged(
                    f"G's weights are NaN/inf at step {self.step}; not overwriting the last good "
                    f"checkpoint in {self.out_dir}. Try a lower learning rate or --amp off."
                )

    def _check_d_wins(self, record: dict[str, float]) -> None:
        c = self.config.loss
        if c.name in ("minimax", "nonsaturating"):
            winning = record["D_G_z"] < 0.01 and record["D_x"] > 0.99
        elif c.name == "least_squares":
            winning = abs(record["D_G_z"] - c.a) < 0.02 and abs(record["D_x"] - c.b) < 0.02
        elif c.name == "relativistic":
            # Logits only mean something relative to each other: a mean gap of 5 says that D
            # ranks a real above its fake with probability sigmoid(5) = 0.993.
            winning = record["D_x"] - record["D_G_z"] > 5.0
        else:
            winning = False
        self._d_wins_streak = self._d_wins_streak + 1 if winning else 0
        if self._d_wins_streak >= self.d_wins_patience:
            fix = ("a larger gamma (loss.r1_weight and loss.r2_weight)" if c.name == "relativistic"
                   else "the nonsaturating loss")
            self._warn_once(
                "d_wins",
                f"the discriminator is winning outright (D(G(z)) = {record['D_G_z']:.3g}, "
                f"D(x) = {record['D_x']:.3g} for {self._d_wins_streak} logs): G gets almost no "
                f"signal. Try {fix}, a smaller D learning rate, or fewer D steps.",
            )

    def _check_g_gradient(self, record: dict[str, float]) -> None:
        """Read the L2 norm of the gradient the last G step left in G's weights (one sync, at
        log time only) and warn when it has collapsed while D rejects the fakes."""
        grads = [p.grad for p in self.G.parameters() if p.grad is not None]
        if not grads:
            return
        norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))).item()
        self.g_grad_norms.append((self.step, norm))
        if self.config.loss.name not in ("minimax", "nonsaturating"):
            return  # least squares and WGAN: G's gradient also shrinks as G catches up with D
        largest = max(n for _, n in self.g_grad_norms)
        vanished = record["D_G_z"] < 0.1 and norm < self.vanishing_ratio * largest
        self._vanishing_streak = self._vanishing_streak + 1 if vanished else 0
        if self._vanishing_streak >= self.vanishing_patience:
            self._warn_once(
                "vanishing_g",
                f"G's gradient has vanished: its norm is {norm:.2g} at step {self.step}, "
                f"{norm / largest:.2%} of its largest ({largest:.2g}), for "
                f"{self._vanishing_streak} logs, with D(G(z)) = {record['D_G_z']:.3g}: G has "
                "stopped learning. With the minimax loss log(1 - D(G(z))) this is saturation: "
                "switch to the non-saturating loss; else try a smaller D learning rate or fewer "
                "D steps.",
            )

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned and self.dist.is_main:
            self._warned.add(key)
            self.warnings_issued.append(message)
            self.warning_keys.append(key)
            warnings.warn(message, RuntimeWarning, stacklevel=3)

    def collapse_check_start(self) -> int:
        """The first step whose snapshot is judged for collapse: ``collapse_after``, plus, when
        snapshots come from the EMA copy of G, the steps until G's initial weights weigh less
        than 10% in it (``decay ** k < 0.1``): until then the copy is mostly the untrained G,
        whose outputs all look alike (230 steps at decay 0.99, 2,302 at 0.999)."""
        decay = self.config.train.ema if self.ema is not None else 0.0
        lag = math.ceil(math.log(0.1) / math.log(decay)) if decay > 0 else 0
        return self.collapse_after + lag

    def _check_collapse(self, x: torch.Tensor) -> None:
        if x.shape[0] < 8 or self.step < self.collapse_check_start():
            return
        if self._real_diversity is None:
            self._real_diversity = _diversity(self.data.tensors(64).float().cpu())
        ratio = _diversity(x) / max(self._real_diversity, 1e-12)
        if ratio < self.collapse_ratio:
            self._warn_once(
                "collapse",
                f"possible mode collapse at step {self.step}: samples for different z are nearly "
                f"identical (diversity {ratio:.1%} of the data's). Try a lower learning rate, the "
                "least-squares or WGAN-GP loss, or restart with another seed.",
            )


def _diversity(x: torch.Tensor) -> float:
    """Mean pairwise distance between the samples (flattened)."""
    flat = x.flatten(1).float()
    return torch.pdist(flat).mean().item()
