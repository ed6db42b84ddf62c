"""rlbound: did post-training widen what a model can solve, or only make it find it faster?

Pass@k boundary studies after Yue et al. 2025, "Does Reinforcement Learning Really Incentivize
Reasoning Capacity in LLMs Beyond the Base Model?" (arXiv 2504.13837).
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("rlbound")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"
