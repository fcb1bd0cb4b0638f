"""Training health: watch what D and G output and say when the balance goes wrong.

Raw GAN losses are hard to read. The monitor keeps a window of recent steps and
diagnoses, from the networks' outputs (D's scores, the loss terms, output
spread), the classic failure modes, each with an explanation and a concrete
suggestion:

- D saturation: D confidently right on real and generated images, D loss near 0.
- G's adversarial loss rising steadily while the reconstruction (L1) stalls.
- L1 term dominating the adversarial term (blur risk).
- Adversarial term dominating the L1 term (artifact risk).
- Collapsed outputs: G's outputs barely vary while the targets do.

(NaN/Inf losses stop training in the trainer itself.) Thresholds depend on the
GAN loss: D's outputs are probabilities for vanilla, raw least-squares scores
for lsgan, and the real-minus-fake score margin for hinge and wgangp.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..methods.base import HealthSignals


@dataclass(frozen=True)
class Diagnosis:
    kind: str
    title: str
    message: str
    suggestion: str

    def line(self, step: int) -> str:
        return f"warning (step {step}): {self.title}. {self.message} Suggestion: {self.suggestion}"


Signals = HealthSignals  # which logged values to read: each method declares its own (``health_signals``)


@dataclass(frozen=True)
class SaturationRule:
    """When D counts as confidently right, per GAN loss."""

    uses_margin: bool
    real_above: float = 0.0  # D(real) view above this ...
    fake_below: float = 0.0  # ... and D(fake) view below this (probability / lsgan score)
    margin_above: float = 0.0  # hinge / wgangp: mean D(real) - D(fake) above this
    loss_below: float = 0.0  # and D's loss below this


SATURATION = {
    "vanilla": SaturationRule(False, real_above=0.9, fake_below=0.1, loss_below=0.12),  # -ln(0.9) = 0.105
    "lsgan": SaturationRule(False, real_above=0.8, fake_below=0.2, loss_below=0.04),  # 0.5 * (0.2^2 + 0.2^2)
    "hinge": SaturationRule(True, margin_above=2.0, loss_below=0.1),  # hinge loss is 0 past a margin of 2
    "wgangp": SaturationRule(True, margin_above=10.0, loss_below=-5.0),
}


@dataclass
class _Track:
    active: bool = False  # fired and not yet cleared: stay quiet until it clears
    clear_steps: int = 0  # consecutive steps the condition has been false


@dataclass
class HealthMonitor:
    """Feed it every step's values; it returns the diagnoses that start at that step."""

    gan_mode: str
    signals: tuple[Signals, ...]  # the method's health_signals
    window: int = 50  # steps a condition must hold (on average) before it is reported
    warmup: int = 50  # steps ignored at the start: every GAN is unbalanced at first
    l1_dominates_ratio: float = 100.0  # lambda * L1 / adversarial above this -> blur risk
    adv_dominates_ratio: float = 0.5  # below this -> artifact risk
    collapse_ratio: float = 0.1  # output spread / target spread below this -> collapse
    history: dict[str, deque] = field(default_factory=dict)
    outputs: deque = field(default_factory=deque)
    targets: deque = field(default_factory=deque)
    steps_seen: int = 0
    _tracks: dict[str, _Track] = field(default_factory=dict)

    def _values(self, key: str, n: int | None = None) -> np.ndarray:
        values = list(self.history.get(key, ()))
        return np.array(values[-(n or self.window):], dtype=np.float64)

    def update(self, values: dict[str, float], output_fingerprint: np.ndarray | None = None,
               target_fingerprint: np.ndarray | None = None) -> list[Diagnosis]:
        """Record one step; return the diagnoses that fire now (each fires once until it clears)."""
        self.steps_seen += 1
        for key, value in values.items():
            self.history.setdefault(key, deque(maxlen=4 * self.window)).append(float(value))
        if output_fingerprint is not None and target_fingerprint is not None:
            for store, fp in ((self.outputs, output_fingerprint), (self.targets, target_fingerprint)):
                store.append(np.asarray(fp, dtype=np.float64).reshape(len(fp), -1))
                while len(store) > self.window:
                    store.popleft()
        if self.steps_seen < self.warmup + self.window:
            return []
        fired = []
        for sig in self.signals:
            for kind, check in (("d_saturation", self._saturation), ("g_rising", self._g_rising),
                                ("l1_dominates", self._l1_dominates), ("adv_dominates", self._adv_dominates)):
                fired += self._gate(kind + sig.label, lambda c=check, s=sig: c(s))
        fired += self._gate("collapse", self._collapse)
        return fired

    def _gate(self, name: str, check: Callable[[], Diagnosis | None]) -> list[Diagnosis]:
        track = self._tracks.setdefault(name, _Track())
        diagnosis = check()
        if diagnosis is None:
            track.clear_steps += 1
            if track.clear_steps >= self.window:  # cleared for a whole window: may fire again later
                track.active = False
            return []
        track.clear_steps = 0
        if track.active:
            return []
        track.active = True
        return [diagnosis]

    def spread(self) -> tuple[float, float] | None:
        """(output spread, target spread) over the window: std across all recent samples, mean over features."""
        if len(self.outputs) < 2:
            return None
        outputs, targets = np.concatenate(list(self.outputs)), np.concatenate(list(self.targets))
        return float(outputs.std(axis=0).mean()), float(targets.std(axis=0).mean())

    # ------------------------------------------------------------------ conditions
    def _saturation(self, sig: Signals) -> Diagnosis | None:
        rule = SATURATION.get(self.gan_mode)
        real, fake, loss = self._values(sig.d_real), self._values(sig.d_fake), self._values(sig.loss_d)
        if rule is None or len(real) < self.window or len(loss) < self.window:
            return None
        r, f, lo = real.mean(), fake.mean(), loss.mean()
        if rule.uses_margin:
            saturated = r - f > rule.margin_above and lo < rule.loss_below
            seen = f"its real-minus-fake score margin is {r - f:.2f}"
        else:
            saturated = r > rule.real_above and f < rule.fake_below and lo < rule.loss_below
            seen = f"D(real) = {r:.2f}, D(fake) = {f:.2f}"
        if not saturated:
            return None
        return Diagnosis(
            "d_saturation",
            f"D saturation{sig.label}",
            f"Over the last {self.window} steps D was confidently right on both real and generated images "
            f"({seen}) and its loss was near 0 ({lo:.3f}): "
            + ("G gets almost no useful gradient from D." if self.gan_mode == "vanilla"
               else "D tells real from generated too easily for its feedback to guide G."),
            "lower train.lr_d (a quarter of its value is a good start)"
            + (" or use loss.gan_mode=lsgan" if self.gan_mode == "vanilla" else "")
            + "; keep loss.lambda_l1 > 0 so G still learns from the targets.",
        )

    def _g_rising(self, sig: Signals) -> Diagnosis | None:
        """Steadily: each of four consecutive windows at least 5% above the last, +50% overall, still rising."""
        span = 4 * self.window
        adv, rec = self._values(sig.adversarial, span), self._values(sig.reconstruction, span)
        if len(adv) < span or len(rec) < span:
            return None
        quarters = adv.reshape(4, -1).mean(axis=1)
        rec_quarters = rec.reshape(4, -1).mean(axis=1)
        last = adv[-self.window :]
        still_rising = np.polyfit(np.arange(len(last)), last, 1)[0] > 0
        steady = bool(np.all(np.diff(quarters) > 0.05 * np.abs(quarters[:-1]))) and still_rising
        rising = steady and quarters[-1] > 1.5 * quarters[0] and quarters[-1] - quarters[0] > 0.3
        r0, r1 = rec_quarters[0], rec_quarters[-1]
        stalled = r0 <= 0 or abs(r1 - r0) / r0 < 0.03
        if not (rising and stalled):
            return None
        return Diagnosis(
            "g_rising",
            f"G adversarial loss rising{sig.label}",
            f"G's adversarial loss rose steadily from {quarters[0]:.2f} to {quarters[-1]:.2f} over the last {span} steps "
            f"while the reconstruction term stalled ({r0:.3f} -> {r1:.3f}): D is pulling ahead and G is not improving.",
            "lower train.lr_d or raise train.lr_g; look at the samples for artifacts.",
        )

    def _ratio(self, sig: Signals) -> float | None:
        adv, rec = self._values(sig.adversarial), self._values(sig.reconstruction)
        if len(adv) < self.window or len(rec) < self.window:
            return None
        a = abs(adv.mean())
        return float(rec.mean() / a) if a > 1e-8 else float("inf")

    def _l1_dominates(self, sig: Signals) -> Diagnosis | None:
        ratio = self._ratio(sig)
        if ratio is None or ratio <= self.l1_dominates_ratio:
            return None
        return Diagnosis(
            "l1_dominates",
            f"L1 term dominating{sig.label}",
            f"The weighted L1 term is {ratio:.0f}x the adversarial term: G mostly minimises L1, which averages "
            "plausible outputs into blur.",
            "lower loss.lambda_l1 (halve it) so the adversarial loss can sharpen details.",
        )

    def _adv_dominates(self, sig: Signals) -> Diagnosis | None:
        ratio = self._ratio(sig)
        if ratio is None or ratio >= self.adv_dominates_ratio:
            return None
        return Diagnosis(
            "adv_dominates",
            f"Adversarial term dominating{sig.label}",
            f"The weighted L1 term is only {ratio:.2f}x the adversarial term: G mostly chases D, which invites "
            "artifacts and outputs unrelated to the target.",
            "raise loss.lambda_l1 (the paper uses 100; see the task presets).",
        )

    def _collapse(self) -> Diagnosis | None:
        spread = self.spread()
        if spread is None or len(self.outputs) < self.window:
            return None
        out, target = spread
        if target < 1e-3 or out / target >= self.collapse_ratio:
            return None
        return Diagnosis(
            "collapse",
            "Collapsed outputs",
            f"G's outputs barely vary (spread {out:.4f} against {target:.4f} in the targets over the last "
            f"{self.window} steps): it produces nearly the same image whatever the input.",
            "lower the learning rates, check that the inputs really differ, or restart from an earlier checkpoint.",
        )
