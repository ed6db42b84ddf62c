"""Study presets: the sizes of the one-command sandbox study (``rlbound study --preset NAME``)."""

from __future__ import annotations

from dataclasses import dataclass

from rlbound.errors import InputError


@dataclass(frozen=True)
class StudyPreset:
    """Sizes and settings of one sandbox study (Yue et al. 2025 at laptop scale).

    Attributes:
        name: preset name.
        base: sandbox pretraining preset of the base model (``rlbound.toy.presets``).
        teacher: sandbox pretraining preset of the stronger teacher that is distilled.
        test_problems: held-out test problems sampled for every model.
        test_seed: seed of the test split.
        test_difficulty: difficulty mix (number of operations: weight) of the test problems; empty:
            the base preset's own test mix. Chosen where the base model is neither always right nor
            hopeless, so that pass@k has room to move at both ends (docs/LOG.md, 2026-12-02).
        n: samples per problem (the n of pass@k; the paper's k goes to 256).
        temperature: sampling temperature of the main comparison.
        extra_temperature: a second temperature at which base and final RL model are also sampled
            (0 disables); the base model loses diversity at low temperature.
        max_new_tokens: longest response.
        sample_batch_size: rows decoded together by the sampler.
        algorithms: RL algorithm presets trained from the same base (``grpo`` first).
        rl_steps: RL steps of each algorithm. RL prompts are train-split problems with the test
            problems' difficulty mix (``test_difficulty``).
        rl_checkpoints: steps at which checkpoints are sampled (the last must equal rl_steps).
        rl_prompts: prompts per RL step.
        rl_rollouts: rollouts per prompt.
        rl_lr: RL learning rate.
        rl_temperature: rollout temperature.
        ablations: also GRPO with KL 0.001 and GRPO with 4x the rollouts (the paper's 8 vs 32).
        distill_prompts: training prompts the teacher answers for distillation.
        distill_samples: teacher samples per prompt.
        distill_epochs: passes over the accepted traces.
        distill_difficulty: difficulty mix of the distillation prompts; empty: ``test_difficulty``.
            Easier prompts give more verified traces per teacher sample (only responses with every
            step right are kept).
        long_tail_problems: extra test problems in the long-tail context (``rlbound.toy.presets.
            LONG_TAIL``, which the base recipe never sees and the teacher does), judged as their own
            split: the positive control on which distillation must widen the boundary. 0 disables.
        exposure_bases: (pretraining recipe, its long-tail exposure share) of each base of the
            exposure study (``rlbound.study.exposure``); empty: the main study.
        seed: seed of RL, distillation and sampling.
    """

    name: str
    base: str = "tiny"
    teacher: str = "teacher"
    test_problems: int = 200
    test_seed: int = 12345
    test_difficulty: tuple[tuple[int, float], ...] = ((2, 1.0), (3, 2.0), (4, 2.0), (5, 1.0))
    n: int = 256
    temperature: float = 1.0
    extra_temperature: float = 0.6
    max_new_tokens: int = 96
    sample_batch_size: int = 1024
    algorithms: tuple[str, ...] = ("grpo",)
    rl_steps: int = 60
    rl_checkpoints: tuple[int, ...] = (20, 40, 60)
    rl_prompts: int = 16
    rl_rollouts: int = 16
    rl_lr: float = 1e-4
    rl_temperature: float = 1.0
    ablations: bool = False
    distill_prompts: int = 512
    distill_samples: int = 4
    distill_epochs: int = 2
    distill_difficulty: tuple[tuple[int, float], ...] = ()
    long_tail_problems: int = 50
    exposure_bases: tuple[tuple[str, float], ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.rl_checkpoints or self.rl_checkpoints[-1] != self.rl_steps:
            raise InputError("the last of rl_checkpoints must equal rl_steps", field="rl_checkpoints")
        if list(self.rl_checkpoints) != sorted(set(self.rl_checkpoints)):
            raise InputError("rl_checkpoints must be increasing", field="rl_checkpoints")
        if not self.algorithms or self.algorithms[0] != "grpo":
            raise InputError("algorithms must start with grpo (the reference RL run)", field="algorithms")


PRESETS: dict[str, StudyPreset] = {
    "demo": StudyPreset(name="demo", distill_prompts=2048, distill_epochs=3,
                        distill_difficulty=((1, 1.0), (2, 2.0), (3, 2.0), (4, 1.0))),
    "algorithms": StudyPreset(name="algorithms", algorithms=("grpo", "ppo", "rloo", "reinforce_pp", "remax", "dapo"),
                              ablations=True, extra_temperature=0.0),
    "smoke": StudyPreset(name="smoke", base="toy", teacher="toy", test_problems=12, n=8, extra_temperature=0.0,
                         test_difficulty=(),
                         max_new_tokens=48, sample_batch_size=64, rl_steps=2, rl_checkpoints=(1, 2),
                         rl_prompts=4, rl_rollouts=4, rl_lr=1e-3, distill_prompts=64, distill_samples=8,
                         distill_epochs=1, long_tail_problems=6),
    "exposure": StudyPreset(name="exposure", test_problems=100, long_tail_problems=100, extra_temperature=0.0,
                            rl_checkpoints=(60,),
                            exposure_bases=(("tiny", 0.0), ("tiny-rev1", 0.01), ("tiny-rev10", 0.10))),
}


def get_study_preset(name: str) -> StudyPreset:
    """The study preset called ``name`` (demo, algorithms, smoke, exposure)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise InputError(f"unknown study preset {name!r}; known: {', '.join(sorted(PRESETS))}",
                         field="preset") from None
